"""Accounts by invitation through boto3 against a real ``keibi serve``: an administrator's members,
a member's invitations and administrator, the legacy "master" operations, and whose findings the
administrator sees after each step; no account reaches another's members or invitations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from keibi.findings.build import detector_id
from keibi.store.members import (
    ALREADY_MEMBER,
    CALLER_IS_MEMBER,
    INVALID,
    NO_INVITATION,
    NOT_ASSOCIATED,
    NOT_MEMBER,
    OTHER_ADMINISTRATOR,
    SELF,
    visible_accounts,
)
from tests.api.server import KeibiServer

NOW = datetime.now(UTC).replace(microsecond=0)


def _account(api: KeibiServer, region: str = "us-east-1") -> tuple[Any, str, str]:
    """A new account with a detector in ``region``: its client, account id and detector id."""
    key = api.account()
    gd = api.client(key, region)
    return gd, key.account_id, gd.create_detector(Enable=True)["DetectorId"]


def _members(gd: Any, did: str, only_associated: str = "false") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for page in gd.get_paginator("list_members").paginate(DetectorId=did, OnlyAssociated=only_associated):
        found.update({m["AccountId"]: m for m in page["Members"]})
    return found


def _invitation_from(gd: Any, admin_id: str) -> str:
    (invitation,) = [i for i in gd.list_invitations()["Invitations"] if i["AccountId"] == admin_id]
    return str(invitation["InvitationId"])


def _join(admin: Any, admin_did: str, admin_id: str, member: Any, member_did: str, member_id: str) -> None:
    assert (
        admin.create_members(
            DetectorId=admin_did, AccountDetails=[{"AccountId": member_id, "Email": "m@example.com"}]
        )["UnprocessedAccounts"]
        == []
    )
    assert admin.invite_members(DetectorId=admin_did, AccountIds=[member_id])["UnprocessedAccounts"] == []
    member.accept_administrator_invitation(
        DetectorId=member_did, AdministratorId=admin_id, InvitationId=_invitation_from(member, admin_id)
    )


def _refused(call: Any, client: Any, text: str) -> None:
    with pytest.raises(client.exceptions.BadRequestException) as err:
        call()
    assert text in err.value.response["Error"]["Message"]


def test_invite_accept_and_every_step_after(api: KeibiServer) -> None:
    admin, admin_id, admin_did = _account(api)
    member, member_id, member_did = _account(api)

    assert (
        admin.create_members(
            DetectorId=admin_did, AccountDetails=[{"AccountId": member_id, "Email": "m@example.com"}]
        )["UnprocessedAccounts"]
        == []
    )
    created = _members(admin, admin_did)[member_id]
    assert created["RelationshipStatus"] == "Created"
    assert (created["MasterId"], created["AdministratorId"], created["Email"]) == (
        admin_id,
        admin_id,
        "m@example.com",
    )
    assert (
        "DetectorId" not in created and "InvitedAt" not in created
    )  # not accepted: nothing of the member shows
    datetime.fromisoformat(created["UpdatedAt"].replace("Z", "+00:00"))
    assert _members(admin, admin_did, "true") == {}
    assert admin.list_members(DetectorId=admin_did)["Members"] == []  # onlyAssociated defaults to true
    assert member.list_invitations()["Invitations"] == []

    assert (
        admin.invite_members(DetectorId=admin_did, AccountIds=[member_id], Message="join us")[
            "UnprocessedAccounts"
        ]
        == []
    )
    (invitation,) = member.list_invitations()["Invitations"]
    assert (invitation["AccountId"], invitation["RelationshipStatus"]) == (admin_id, "Invited")
    assert invitation["InvitedAt"].endswith("Z")
    assert member.get_invitations_count()["InvitationsCount"] == 1
    assert "Administrator" not in member.get_administrator_account(DetectorId=member_did)
    assert _members(admin, admin_did)[member_id]["RelationshipStatus"] == "Invited"

    member.accept_administrator_invitation(
        DetectorId=member_did, AdministratorId=admin_id, InvitationId=invitation["InvitationId"]
    )
    (enabled,) = admin.list_members(DetectorId=admin_did)["Members"]
    assert (enabled["AccountId"], enabled["RelationshipStatus"], enabled["DetectorId"]) == (
        member_id,
        "Enabled",
        member_did,
    )
    assert enabled["InvitedAt"] == invitation["InvitedAt"]
    got = member.get_administrator_account(DetectorId=member_did)["Administrator"]
    assert (got["AccountId"], got["InvitationId"], got["RelationshipStatus"]) == (
        admin_id,
        invitation["InvitationId"],
        "Enabled",
    )
    assert member.get_master_account(DetectorId=member_did)["Master"]["AccountId"] == admin_id
    assert member.get_invitations_count()["InvitationsCount"] == 0  # the accepted one is not counted
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id, member_id]

    assert (
        admin.stop_monitoring_members(DetectorId=admin_did, AccountIds=[member_id])["UnprocessedAccounts"]
        == []
    )
    assert _members(admin, admin_did, "true")[member_id]["RelationshipStatus"] == "Disabled"
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id]
    assert (
        admin.start_monitoring_members(DetectorId=admin_did, AccountIds=[member_id])["UnprocessedAccounts"]
        == []
    )
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id, member_id]

    assert (
        admin.disassociate_members(DetectorId=admin_did, AccountIds=[member_id])["UnprocessedAccounts"] == []
    )
    assert _members(admin, admin_did)[member_id]["RelationshipStatus"] == "Removed"
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id]
    assert member.get_administrator_account(DetectorId=member_did).get("Administrator") is None

    # Invited again without CreateMembers, accepted through the legacy operation.
    assert admin.invite_members(DetectorId=admin_did, AccountIds=[member_id])["UnprocessedAccounts"] == []
    member.accept_invitation(
        DetectorId=member_did, MasterId=admin_id, InvitationId=_invitation_from(member, admin_id)
    )
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id, member_id]

    member.disassociate_from_administrator_account(DetectorId=member_did)
    assert _members(admin, admin_did)[member_id]["RelationshipStatus"] == "Resigned"
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id]
    _refused(
        lambda: member.disassociate_from_master_account(DetectorId=member_did), member, "not associated with"
    )

    assert admin.delete_members(DetectorId=admin_did, AccountIds=[member_id])["UnprocessedAccounts"] == []
    assert _members(admin, admin_did) == {}


def test_the_administrator_sees_member_findings_only_while_monitoring(api: KeibiServer) -> None:
    from tests.api.bulk import add_findings  # needs keibi.findings.samples (the findings handlers')

    admin, admin_id, admin_did = _account(api)
    member, member_id, member_did = _account(api)
    own = {f["id"] for f in add_findings(api.store, [admin_id], 3, now=NOW, seed=1)}
    theirs = {f["id"] for f in add_findings(api.store, [member_id], 4, now=NOW, seed=2)}

    def listed() -> set[str]:
        ids: set[str] = set()
        for page in admin.get_paginator("list_findings").paginate(DetectorId=admin_did):
            ids.update(page["FindingIds"])
        return ids

    assert listed() == own
    _join(admin, admin_did, admin_id, member, member_did, member_id)
    assert listed() == own | theirs
    assert {
        f["Id"] for f in admin.get_findings(DetectorId=admin_did, FindingIds=sorted(theirs))["Findings"]
    } == theirs
    # The member sees its own findings, never its administrator's.
    member_ids = set(member.list_findings(DetectorId=member_did)["FindingIds"])
    assert member_ids == theirs

    admin.stop_monitoring_members(DetectorId=admin_did, AccountIds=[member_id])
    assert listed() == own
    admin.start_monitoring_members(DetectorId=admin_did, AccountIds=[member_id])
    assert listed() == own | theirs
    admin.delete_members(DetectorId=admin_did, AccountIds=[member_id])
    assert listed() == own


def test_a_member_cannot_archive_or_delete_its_detector_while_associated(api: KeibiServer) -> None:
    from tests.api.bulk import add_findings

    admin, admin_id, admin_did = _account(api)
    member, member_id, member_did = _account(api)
    theirs = [f["id"] for f in add_findings(api.store, [member_id], 3, now=NOW, seed=4, archived_share=0)]
    _join(admin, admin_did, admin_id, member, member_did, member_id)
    with pytest.raises(member.exceptions.AccessDeniedException):
        member.archive_findings(DetectorId=member_did, FindingIds=theirs)
    _refused(lambda: member.delete_detector(DetectorId=member_did), member, "disassociate from it first")
    # The administrator archives its member's finding; the member sees it archived.
    admin.archive_findings(DetectorId=admin_did, FindingIds=theirs[:1])
    got = member.get_findings(DetectorId=member_did, FindingIds=theirs)["Findings"]
    assert [f["Service"]["Archived"] for f in got] == [True, False, False]
    member.disassociate_from_administrator_account(DetectorId=member_did)
    member.delete_detector(DetectorId=member_did)
    assert member.list_detectors()["DetectorIds"] == []


def test_create_members_refusals_are_unprocessed_accounts(api: KeibiServer) -> None:
    admin_key = api.account()
    admin, admin_id = api.client(admin_key), admin_key.account_id
    admin_did = admin.create_detector(Enable=True)["DetectorId"]
    other, other_id, other_did = _account(api)
    member, member_id, member_did = _account(api)
    fresh = api.account().account_id
    _join(other, other_did, other_id, member, member_did, member_id)

    answer = admin.create_members(
        DetectorId=admin_did,
        AccountDetails=[
            {"AccountId": admin_id, "Email": "a@example.com"},
            {"AccountId": "12345678901x", "Email": "x@example.com"},
            {"AccountId": member_id, "Email": "m@example.com"},
            {"AccountId": fresh, "Email": "f@example.com"},
            {"AccountId": fresh, "Email": "f@example.com"},
        ],
    )
    assert [(u["AccountId"], u["Result"]) for u in answer["UnprocessedAccounts"]] == [
        (admin_id, SELF),
        ("12345678901x", INVALID),
        (member_id, OTHER_ADMINISTRATOR),
        (fresh, ALREADY_MEMBER),
    ]
    assert set(_members(admin, admin_did)) == {fresh}
    # An associated member cannot become an administrator.
    refused = member.create_members(
        DetectorId=member_did, AccountDetails=[{"AccountId": fresh, "Email": "f@x.io"}]
    )
    assert refused["UnprocessedAccounts"] == [{"AccountId": fresh, "Result": CALLER_IS_MEMBER}]
    # Input the model refuses is a 400, not an unprocessed account.
    unchecked = api.client(admin_key, parameter_validation=False)
    with pytest.raises(unchecked.exceptions.BadRequestException) as err:
        unchecked.create_members(
            DetectorId=admin_did, AccountDetails=[{"AccountId": "123", "Email": "a@example.com"}]
        )
    assert "accountDetails[0].accountId" in err.value.response["Error"]["Message"]


def test_accepting_needs_a_detector_and_the_right_invitation(api: KeibiServer) -> None:
    admin, admin_id, admin_did = _account(api)
    key = api.account()
    member = api.client(key)
    admin.create_members(
        DetectorId=admin_did, AccountDetails=[{"AccountId": key.account_id, "Email": "m@e.io"}]
    )
    admin.invite_members(DetectorId=admin_did, AccountIds=[key.account_id])
    invitation = _invitation_from(member, admin_id)  # seen without a detector
    own = detector_id(key.account_id, "us-east-1")
    _refused(
        lambda: member.accept_administrator_invitation(
            DetectorId=own, AdministratorId=admin_id, InvitationId=invitation
        ),
        member,
        "not owned by the current account",
    )
    member_did = member.create_detector(Enable=True)["DetectorId"]
    for admin_arg, invitation_arg in ((admin_id, "0" * 32), ("999999999999", invitation)):
        _refused(
            lambda a=admin_arg, i=invitation_arg: member.accept_administrator_invitation(
                DetectorId=member_did, AdministratorId=a, InvitationId=i
            ),
            member,
            "no pending invitation",
        )
    # Invitations are per region: eu-west-1 holds none, and cannot accept this one.
    west = api.client(key, "eu-west-1")
    west_did = west.create_detector(Enable=True)["DetectorId"]
    assert west.list_invitations()["Invitations"] == []
    assert west.get_invitations_count()["InvitationsCount"] == 0
    _refused(
        lambda: west.accept_administrator_invitation(
            DetectorId=west_did, AdministratorId=admin_id, InvitationId=invitation
        ),
        west,
        "no pending invitation",
    )
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id]

    member.accept_administrator_invitation(
        DetectorId=member_did, AdministratorId=admin_id, InvitationId=invitation
    )
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id, key.account_id]
    assert visible_accounts(api.store, admin_id, "eu-west-1") == [admin_id]
    assert "Administrator" not in west.get_administrator_account(DetectorId=west_did)


def test_one_administrator_and_never_both_roles(api: KeibiServer) -> None:
    first, first_id, first_did = _account(api)
    second, second_id, second_did = _account(api)
    member, member_id, member_did = _account(api)
    for admin, did in ((first, first_did), (second, second_did)):
        admin.create_members(DetectorId=did, AccountDetails=[{"AccountId": member_id, "Email": "m@e.io"}])
        admin.invite_members(DetectorId=did, AccountIds=[member_id])
    assert member.get_invitations_count()["InvitationsCount"] == 2
    member.accept_administrator_invitation(
        DetectorId=member_did, AdministratorId=first_id, InvitationId=_invitation_from(member, first_id)
    )
    assert member.get_invitations_count()["InvitationsCount"] == 1
    _refused(
        lambda: member.accept_administrator_invitation(
            DetectorId=member_did, AdministratorId=second_id, InvitationId=_invitation_from(member, second_id)
        ),
        member,
        "already a member of an administrator account",
    )
    statuses = {i["AccountId"]: i["RelationshipStatus"] for i in member.list_invitations()["Invitations"]}
    assert statuses == {first_id: "Enabled", second_id: "Invited"}
    assert visible_accounts(api.store, second_id, "us-east-1") == [second_id]

    # An account with members (``second`` invited the member) cannot accept an invitation.
    third, third_id, third_did = _account(api)
    third.create_members(DetectorId=third_did, AccountDetails=[{"AccountId": second_id, "Email": "s@e.io"}])
    third.invite_members(DetectorId=third_did, AccountIds=[second_id])
    _refused(
        lambda: second.accept_administrator_invitation(
            DetectorId=second_did, AdministratorId=third_id, InvitationId=_invitation_from(second, third_id)
        ),
        second,
        "contains created, invited, or associated members",
    )


def test_decline_and_delete_invitations(api: KeibiServer) -> None:
    first, first_id, first_did = _account(api)
    second, second_id, second_did = _account(api)
    member, member_id, member_did = _account(api)
    stranger = api.account().account_id
    for admin, did in ((first, first_did), (second, second_did)):
        admin.create_members(DetectorId=did, AccountDetails=[{"AccountId": member_id, "Email": "m@e.io"}])
        admin.invite_members(DetectorId=did, AccountIds=[member_id])

    declined = member.decline_invitations(AccountIds=[second_id, stranger])
    assert declined["UnprocessedAccounts"] == [{"AccountId": stranger, "Result": NO_INVITATION}]
    assert [i["AccountId"] for i in member.list_invitations()["Invitations"]] == [first_id]
    assert _members(second, second_did)[member_id]["RelationshipStatus"] == "Resigned"

    member.accept_administrator_invitation(
        DetectorId=member_did, AdministratorId=first_id, InvitationId=_invitation_from(member, first_id)
    )
    (still,) = member.delete_invitations(AccountIds=[first_id])["UnprocessedAccounts"]
    assert still["AccountId"] == first_id and "still associated" in still["Result"]
    assert visible_accounts(api.store, first_id, "us-east-1") == [first_id, member_id]

    # (Each invitation with a message of its own: the same write signed twice in one second would
    # be refused as a replay.)
    taken = second.invite_members(DetectorId=second_did, AccountIds=[member_id], Message="taken")
    assert taken["UnprocessedAccounts"] == [{"AccountId": member_id, "Result": OTHER_ADMINISTRATOR}]
    member.disassociate_from_administrator_account(DetectorId=member_did)
    again = second.invite_members(DetectorId=second_did, AccountIds=[member_id], Message="again")
    assert again["UnprocessedAccounts"] == []
    assert member.delete_invitations(AccountIds=[second_id])["UnprocessedAccounts"] == []
    assert member.list_invitations()["Invitations"] == []
    assert member.get_invitations_count()["InvitationsCount"] == 0


def test_get_members_and_member_detectors(api: KeibiServer) -> None:
    admin, admin_id, admin_did = _account(api)
    member, member_id, member_did = _account(api)
    created = api.account().account_id
    member.update_detector(DetectorId=member_did, Features=[{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}])
    _join(admin, admin_did, admin_id, member, member_did, member_id)
    admin.create_members(DetectorId=admin_did, AccountDetails=[{"AccountId": created, "Email": "c@e.io"}])
    stranger = api.account().account_id

    got = admin.get_members(DetectorId=admin_did, AccountIds=[member_id, created, stranger])
    assert [(m["AccountId"], m["RelationshipStatus"]) for m in got["Members"]] == [
        (member_id, "Enabled"),
        (created, "Created"),
    ]
    assert got["UnprocessedAccounts"] == [{"AccountId": stranger, "Result": NOT_MEMBER}]

    detectors = admin.get_member_detectors(DetectorId=admin_did, AccountIds=[member_id, created, stranger])
    (config,) = detectors["MemberDataSourceConfigurations"]
    assert config["AccountId"] == member_id
    sources = config["DataSources"]
    assert (sources["CloudTrail"]["Status"], sources["S3Logs"]["Status"]) == ("ENABLED", "DISABLED")
    assert [(f["Name"], f["Status"]) for f in config["Features"]] == [("S3_DATA_EVENTS", "DISABLED")]
    assert sorted((u["AccountId"], u["Result"]) for u in detectors["UnprocessedAccounts"]) == sorted(
        [(created, NOT_ASSOCIATED), (stranger, NOT_MEMBER)]
    )
    stop = admin.stop_monitoring_members(DetectorId=admin_did, AccountIds=[created, stranger])
    assert [u["Result"] for u in stop["UnprocessedAccounts"]] == [NOT_ASSOCIATED, NOT_ASSOCIATED]


def test_nobody_reaches_another_accounts_members_or_invitations(api: KeibiServer) -> None:
    admin, admin_id, admin_did = _account(api)
    member, member_id, member_did = _account(api)
    outsider, outsider_id, outsider_did = _account(api)
    _join(admin, admin_did, admin_id, member, member_did, member_id)
    admin.create_members(DetectorId=admin_did, AccountDetails=[{"AccountId": outsider_id, "Email": "o@e.io"}])
    admin.invite_members(DetectorId=admin_did, AccountIds=[outsider_id])

    # Neither the member nor an outsider can use the administrator's detector.
    for client in (member, outsider):
        for call in (
            lambda c=client: c.list_members(DetectorId=admin_did),
            lambda c=client: c.get_members(DetectorId=admin_did, AccountIds=[member_id]),
            lambda c=client: c.stop_monitoring_members(DetectorId=admin_did, AccountIds=[member_id]),
            lambda c=client: c.disassociate_members(DetectorId=admin_did, AccountIds=[member_id]),
            lambda c=client: c.delete_members(DetectorId=admin_did, AccountIds=[member_id]),
            lambda c=client: c.get_member_detectors(DetectorId=admin_did, AccountIds=[member_id]),
        ):
            _refused(call, client, "not owned by the current account")
    # Through their own detectors they find nothing of the administrator's.
    assert member.get_members(DetectorId=member_did, AccountIds=[outsider_id])["UnprocessedAccounts"] == [
        {"AccountId": outsider_id, "Result": NOT_MEMBER}
    ]
    assert outsider.disassociate_members(DetectorId=outsider_did, AccountIds=[member_id])[
        "UnprocessedAccounts"
    ] == [{"AccountId": member_id, "Result": NOT_MEMBER}]
    # Each sees only the invitations sent to itself; the administrator holds none.
    assert [i["AccountId"] for i in outsider.list_invitations()["Invitations"]] == [admin_id]
    assert [i["AccountId"] for i in member.list_invitations()["Invitations"]] == [admin_id]
    assert admin.list_invitations()["Invitations"] == []
    # Declining someone else's invitation is not possible: the member can only decline its own.
    assert (
        member.decline_invitations(AccountIds=[admin_id])["UnprocessedAccounts"][0]["AccountId"] == admin_id
    )
    assert [i["RelationshipStatus"] for i in outsider.list_invitations()["Invitations"]] == ["Invited"]
    assert set(_members(admin, admin_did, "true")) == {member_id}
    assert visible_accounts(api.store, admin_id, "us-east-1") == [admin_id, member_id]
    assert visible_accounts(api.store, outsider_id, "us-east-1") == [outsider_id]


def test_pagination(api: KeibiServer) -> None:
    admin, _, admin_did = _account(api)
    ids = sorted(api.account().account_id for _ in range(5))
    admin.create_members(
        DetectorId=admin_did, AccountDetails=[{"AccountId": a, "Email": "x@e.io"} for a in ids]
    )
    first = admin.list_members(DetectorId=admin_did, OnlyAssociated="false", MaxResults=2)
    assert [m["AccountId"] for m in first["Members"]] == ids[:2]
    pages = admin.get_paginator("list_members").paginate(
        DetectorId=admin_did, OnlyAssociated="false", PaginationConfig={"PageSize": 2}
    )
    assert [[m["AccountId"] for m in p["Members"]] for p in pages] == [ids[:2], ids[2:4], ids[4:]]
    with pytest.raises(admin.exceptions.BadRequestException):
        admin.list_members(DetectorId=admin_did, OnlyAssociated="maybe")

    member, member_id, _ = _account(api)
    inviters = []
    for _ in range(3):
        gd, gd_id, gd_did = _account(api)
        gd.create_members(DetectorId=gd_did, AccountDetails=[{"AccountId": member_id, "Email": "m@e.io"}])
        gd.invite_members(DetectorId=gd_did, AccountIds=[member_id])
        inviters.append(gd_id)
    pages = member.get_paginator("list_invitations").paginate(PaginationConfig={"PageSize": 2})
    listed = [[i["AccountId"] for i in p["Invitations"]] for p in pages]
    assert [len(p) for p in listed] == [2, 1]
    assert sorted(a for p in listed for a in p) == sorted(inviters)
    assert member.get_invitations_count()["InvitationsCount"] == 3


def test_members_of_one_administrator_never_reach_each_other_or_the_administrator(api: KeibiServer) -> None:
    from tests.api.bulk import add_findings

    admin, admin_id, admin_did = _account(api)
    one, one_id, one_did = _account(api)
    two, two_id, two_did = _account(api)
    _join(admin, admin_did, admin_id, one, one_did, one_id)
    _join(admin, admin_did, admin_id, two, two_did, two_id)
    findings = {
        account: [f["id"] for f in add_findings(api.store, [account], 4, now=NOW, seed=n, archived_share=0)]
        for n, account in enumerate((admin_id, one_id, two_id))
    }
    for member, did, own in ((one, one_did, one_id), (two, two_did, two_id)):
        assert set(member.list_findings(DetectorId=did)["FindingIds"]) == set(findings[own])
        for other in (a for a in findings if a != own):
            guessed = findings[other]
            assert member.get_findings(DetectorId=did, FindingIds=guessed)["Findings"] == []
            with pytest.raises(member.exceptions.BadRequestException):
                member.update_findings_feedback(DetectorId=did, FindingIds=guessed, Feedback="USEFUL")
            with pytest.raises(member.exceptions.AccessDeniedException):
                member.archive_findings(DetectorId=did, FindingIds=guessed)
        # The administrator's detector id is not the member's to use.
        for call in (member.list_findings, member.list_members):
            with pytest.raises(member.exceptions.BadRequestException) as err:
                call(DetectorId=admin_did)
            assert "not owned by the current account" in err.value.response["Error"]["Message"]
        stats = member.get_findings_statistics(DetectorId=did, GroupBy="ACCOUNT")["FindingStatistics"]
        assert [g["AccountId"] for g in stats["GroupedByAccount"]] == [own]
    # The administrator sees all three accounts, and nothing the members tried changed anything.
    seen = admin.get_findings_statistics(DetectorId=admin_did, GroupBy="ACCOUNT")["FindingStatistics"]
    assert sorted(g["AccountId"] for g in seen["GroupedByAccount"]) == sorted(findings)
    every = [i for ids in findings.values() for i in ids]
    got = admin.get_findings(DetectorId=admin_did, FindingIds=every)["Findings"]
    assert len(got) == len(every)
    assert all(not f["Service"]["Archived"] and "UserFeedback" not in f["Service"] for f in got)
