"""Members and invitations in the store, on SQLite and PostgreSQL: every relationship transition,
and after each one exactly the accounts whose findings the administrator may see."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keibi.store import Store
from keibi.store.detectors import DetectorRecord, create_detector
from keibi.store.members import (
    ALREADY_INVITED,
    ALREADY_MEMBER,
    CALLER_IS_MEMBER,
    HAS_ADMINISTRATOR,
    HAS_MEMBERS,
    INVALID,
    NO_ADMINISTRATOR,
    NO_INVITATION,
    NO_PENDING_INVITATION,
    NOT_ASSOCIATED,
    NOT_MEMBER,
    OTHER_ADMINISTRATOR,
    SELF,
    STILL_ASSOCIATED,
    MembershipError,
    Unprocessed,
    accept_invitation,
    administrator,
    administrator_of,
    create_members,
    delete_members,
    disassociate_from_administrator,
    disassociate_members,
    drop_invitations,
    get_members,
    invitations,
    invite_members,
    list_members,
    set_monitoring,
    visible_accounts,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ADMIN, MEMBER, OTHER, THIRD = "111111111111", "222222222222", "333333333333", "444444444444"
EAST, WEST = "us-east-1", "eu-west-1"


def _detector(store: Store, account: str, region: str = EAST) -> DetectorRecord:
    made = create_detector(store, account, region, enabled=True, frequency="SIX_HOURS", features=[], now=NOW)
    assert made is not None
    return made


def _status(store: Store, admin: DetectorRecord, account: str) -> str:
    found, _ = get_members(store, admin, [account])
    return found[0].relationship_status


def _invite_and_accept(store: Store, admin: DetectorRecord, member: DetectorRecord) -> str:
    """Invite ``member`` (already created) and accept; returns the invitation id."""
    assert invite_members(store, admin, [member.account_id], NOW) == []
    (held,) = [
        i
        for i in invitations(store, member.account_id, member.region)
        if i.administrator_id == admin.account_id
    ]
    assert held.invitation_id is not None
    accept_invitation(store, member, admin.account_id, held.invitation_id, NOW)
    return held.invitation_id


def test_every_transition_and_what_the_administrator_sees(store: Store) -> None:
    admin, member = _detector(store, ADMIN), _detector(store, MEMBER)
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]

    assert create_members(store, admin, [(MEMBER, "m@example.com")], NOW) == []
    assert _status(store, admin, MEMBER) == "Created"
    assert invitations(store, MEMBER, EAST) == []
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]

    later = NOW + timedelta(minutes=5)
    assert invite_members(store, admin, [MEMBER], later) == []
    (invited,) = invitations(store, MEMBER, EAST)
    assert (invited.relationship_status, invited.administrator_id, invited.invited_at) == (
        "Invited",
        ADMIN,
        later,
    )
    assert invited.invitation_id is not None and len(invited.invitation_id) == 32
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    assert administrator_of(store, MEMBER, EAST) is None

    accept_invitation(store, member, ADMIN, invited.invitation_id, later)
    assert _status(store, admin, MEMBER) == "Enabled"
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]
    assert visible_accounts(store, MEMBER, EAST) == [MEMBER]  # a member sees only its own
    assert administrator_of(store, MEMBER, EAST) == ADMIN

    assert set_monitoring(store, admin, [MEMBER], monitored=False, now=later) == []
    assert _status(store, admin, MEMBER) == "Disabled"
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    assert administrator_of(store, MEMBER, EAST) == ADMIN  # still associated

    assert set_monitoring(store, admin, [MEMBER], monitored=True, now=later) == []
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]

    assert disassociate_members(store, admin, [MEMBER], later) == []
    assert _status(store, admin, MEMBER) == "Removed"
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    assert invitations(store, MEMBER, EAST) == []
    assert administrator_of(store, MEMBER, EAST) is None

    second = _invite_and_accept(store, admin, member)  # re-invited without CreateMembers
    assert second != invited.invitation_id
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]

    disassociate_from_administrator(store, MEMBER, EAST, later)
    assert _status(store, admin, MEMBER) == "Resigned"
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    with pytest.raises(MembershipError, match=NO_ADMINISTRATOR):
        disassociate_from_administrator(store, MEMBER, EAST, later)

    _invite_and_accept(store, admin, member)
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]
    assert delete_members(store, admin, [MEMBER]) == []
    assert list_members(store, admin, only_associated=False) == []
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    assert administrator_of(store, MEMBER, EAST) is None


def test_create_members_refusals(store: Store) -> None:
    admin, other = _detector(store, ADMIN), _detector(store, OTHER)
    member = _detector(store, MEMBER)
    assert create_members(store, other, [(MEMBER, "m@example.com")], NOW) == []
    _invite_and_accept(store, other, member)

    refused = create_members(
        store,
        admin,
        [
            (ADMIN, "a@example.com"),
            ("12345678901x", "x@example.com"),
            (THIRD, "not-an-email"),
            (MEMBER, "m@example.com"),
            (THIRD, "t@example.com"),
            (THIRD, "t@example.com"),
        ],
        NOW,
    )
    assert refused == [
        Unprocessed(ADMIN, SELF),
        Unprocessed("12345678901x", INVALID),
        Unprocessed(THIRD, INVALID),
        Unprocessed(MEMBER, OTHER_ADMINISTRATOR),
        Unprocessed(THIRD, ALREADY_MEMBER),
    ]
    assert [m.account_id for m in list_members(store, admin, only_associated=False)] == [THIRD]
    # An associated member cannot become an administrator.
    assert create_members(store, member, [(THIRD, "t@example.com")], NOW) == [
        Unprocessed(THIRD, CALLER_IS_MEMBER)
    ]
    assert invite_members(store, member, [THIRD], NOW) == [Unprocessed(THIRD, CALLER_IS_MEMBER)]


def test_invite_refusals(store: Store) -> None:
    admin = _detector(store, ADMIN)
    assert create_members(store, admin, [(MEMBER, "m@example.com")], NOW) == []
    assert invite_members(store, admin, [MEMBER, OTHER, MEMBER], NOW) == [
        Unprocessed(OTHER, NOT_MEMBER),
        Unprocessed(MEMBER, ALREADY_INVITED),
    ]
    assert invite_members(store, admin, [MEMBER], NOW) == [Unprocessed(MEMBER, ALREADY_INVITED)]


def test_accept_needs_the_right_pending_invitation(store: Store) -> None:
    admin, member = _detector(store, ADMIN), _detector(store, MEMBER)
    create_members(store, admin, [(MEMBER, "m@example.com")], NOW)
    with pytest.raises(MembershipError, match=NO_PENDING_INVITATION):  # created, not invited
        accept_invitation(store, member, ADMIN, "0" * 32, NOW)
    invite_members(store, admin, [MEMBER], NOW)
    (held,) = invitations(store, MEMBER, EAST)
    assert held.invitation_id is not None
    for admin_id, invitation_id in ((ADMIN, "f" * 32), (OTHER, held.invitation_id)):
        with pytest.raises(MembershipError, match=NO_PENDING_INVITATION):
            accept_invitation(store, member, admin_id, invitation_id, NOW)
    # The invitation is for us-east-1: the member's eu-west-1 detector cannot accept it.
    west = _detector(store, MEMBER, WEST)
    assert invitations(store, MEMBER, WEST) == []
    with pytest.raises(MembershipError, match=NO_PENDING_INVITATION):
        accept_invitation(store, west, ADMIN, held.invitation_id, NOW)
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    assert visible_accounts(store, ADMIN, WEST) == [ADMIN]

    accept_invitation(store, member, ADMIN, held.invitation_id, NOW)
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]
    assert visible_accounts(store, ADMIN, WEST) == [ADMIN]
    with pytest.raises(MembershipError, match=HAS_ADMINISTRATOR):  # accepting twice
        accept_invitation(store, member, ADMIN, held.invitation_id, NOW)


def test_one_administrator_and_never_both_roles(store: Store) -> None:
    admin, other, member = _detector(store, ADMIN), _detector(store, OTHER), _detector(store, MEMBER)
    for inviter in (admin, other):
        create_members(store, inviter, [(MEMBER, "m@example.com")], NOW)
        invite_members(store, inviter, [MEMBER], NOW)
    held = {i.administrator_id: i.invitation_id for i in invitations(store, MEMBER, EAST)}
    assert set(held) == {ADMIN, OTHER}
    accept_invitation(store, member, ADMIN, str(held[ADMIN]), NOW)
    with pytest.raises(MembershipError, match=HAS_ADMINISTRATOR):
        accept_invitation(store, member, OTHER, str(held[OTHER]), NOW)
    assert visible_accounts(store, OTHER, EAST) == [OTHER]
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]
    found = administrator(store, MEMBER, EAST)
    assert found is not None and (found.administrator_id, found.invitation_id) == (ADMIN, held[ADMIN])
    # The other administrator cannot invite an account associated elsewhere again either.
    assert disassociate_members(store, other, [MEMBER], NOW) == []
    assert invite_members(store, other, [MEMBER], NOW) == [Unprocessed(MEMBER, OTHER_ADMINISTRATOR)]

    # An account with members cannot become a member.
    third = _detector(store, THIRD)
    create_members(store, third, [(ADMIN, "a@example.com")], NOW)
    invite_members(store, third, [ADMIN], NOW)
    (to_admin,) = invitations(store, ADMIN, EAST)
    with pytest.raises(MembershipError, match=HAS_MEMBERS):
        accept_invitation(store, admin, THIRD, str(to_admin.invitation_id), NOW)
    assert visible_accounts(store, THIRD, EAST) == [THIRD]


def test_decline_and_delete_invitations(store: Store) -> None:
    admin, other, member = _detector(store, ADMIN), _detector(store, OTHER), _detector(store, MEMBER)
    for inviter in (admin, other):
        create_members(store, inviter, [(MEMBER, "m@example.com")], NOW)
        invite_members(store, inviter, [MEMBER], NOW)

    assert drop_invitations(store, MEMBER, EAST, [OTHER, THIRD], NOW, verb="decline") == [
        Unprocessed(THIRD, NO_INVITATION)
    ]
    assert _status(store, other, MEMBER) == "Resigned"
    assert [i.administrator_id for i in invitations(store, MEMBER, EAST)] == [ADMIN]
    assert drop_invitations(store, MEMBER, EAST, [OTHER], NOW, verb="delete") == [
        Unprocessed(OTHER, NO_INVITATION)
    ]

    # The declined administrator may invite again; a pending invitation can be deleted outright.
    assert invite_members(store, other, [MEMBER], NOW) == []
    assert _status(store, other, MEMBER) == "Invited"
    assert drop_invitations(store, MEMBER, EAST, [OTHER], NOW, verb="delete") == []
    assert _status(store, other, MEMBER) == "Resigned"

    (pending,) = invitations(store, MEMBER, EAST)
    accept_invitation(store, member, ADMIN, str(pending.invitation_id), NOW)
    for verb in ("decline", "delete"):
        assert drop_invitations(store, MEMBER, EAST, [ADMIN], NOW, verb=verb) == [
            Unprocessed(ADMIN, STILL_ASSOCIATED.format(verb=verb))
        ]
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]
    assert [(i.administrator_id, i.relationship_status) for i in invitations(store, MEMBER, EAST)] == [
        (ADMIN, "Enabled")
    ]


def test_administrators_act_only_on_their_own_members(store: Store) -> None:
    admin, other, member = _detector(store, ADMIN), _detector(store, OTHER), _detector(store, MEMBER)
    create_members(store, admin, [(MEMBER, "m@example.com")], NOW)
    _invite_and_accept(store, admin, member)

    assert get_members(store, other, [MEMBER]) == ([], [Unprocessed(MEMBER, NOT_MEMBER)])
    assert set_monitoring(store, other, [MEMBER], monitored=False, now=NOW) == [
        Unprocessed(MEMBER, NOT_ASSOCIATED)
    ]
    assert disassociate_members(store, other, [MEMBER], NOW) == [Unprocessed(MEMBER, NOT_MEMBER)]
    assert delete_members(store, other, [MEMBER]) == [Unprocessed(MEMBER, NOT_MEMBER)]
    assert list_members(store, other, only_associated=False) == []
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN, MEMBER]
    assert visible_accounts(store, OTHER, EAST) == [OTHER]
    # The member cannot stop its own monitoring through its own detector either.
    assert set_monitoring(store, member, [MEMBER], monitored=False, now=NOW) == [
        Unprocessed(MEMBER, NOT_ASSOCIATED)
    ]
    assert _status(store, admin, MEMBER) == "Enabled"


def test_list_members_and_the_member_detector(store: Store) -> None:
    admin = _detector(store, ADMIN)
    member = _detector(store, MEMBER)
    create_members(store, admin, [(OTHER, "o@example.com"), (MEMBER, "m@example.com")], NOW)
    _invite_and_accept(store, admin, member)

    everyone = list_members(store, admin, only_associated=False)
    assert [(m.account_id, m.relationship_status) for m in everyone] == [
        (MEMBER, "Enabled"),
        (OTHER, "Created"),
    ]
    assert [m.account_id for m in list_members(store, admin, only_associated=True)] == [MEMBER]
    assert everyone[0].member_detector_id == member.detector_id and everyone[0].associated
    assert everyone[1].member_detector_id is None and not everyone[1].associated
    found, missing = get_members(store, admin, [OTHER, THIRD, MEMBER])
    assert [m.account_id for m in found] == [OTHER, MEMBER]
    assert missing == [Unprocessed(THIRD, NOT_MEMBER)]
    assert found[1].email == "m@example.com" and found[1].administrator_id == ADMIN


def test_monitoring_needs_an_associated_member(store: Store) -> None:
    admin = _detector(store, ADMIN)
    create_members(store, admin, [(MEMBER, "m@example.com")], NOW)
    assert set_monitoring(store, admin, [MEMBER], monitored=True, now=NOW) == [
        Unprocessed(MEMBER, NOT_ASSOCIATED)
    ]
    invite_members(store, admin, [MEMBER], NOW)
    assert set_monitoring(store, admin, [MEMBER], monitored=True, now=NOW) == [
        Unprocessed(MEMBER, NOT_ASSOCIATED)
    ]
    assert _status(store, admin, MEMBER) == "Invited"
    assert visible_accounts(store, ADMIN, EAST) == [ADMIN]
    # Disassociating an invited member withdraws the invitation.
    assert disassociate_members(store, admin, [MEMBER], NOW) == []
    assert _status(store, admin, MEMBER) == "Removed"
    assert invitations(store, MEMBER, EAST) == []
