"""GuardDuty's accounts by invitation: an administrator's members (CreateMembers, InviteMembers,
ListMembers, GetMembers, GetMemberDetectors, Start/StopMonitoringMembers, DisassociateMembers,
DeleteMembers) and a member's invitations and administrator (ListInvitations,
GetInvitationsCount, AcceptAdministratorInvitation, DeclineInvitations, DeleteInvitations,
GetAdministratorAccount, DisassociateFromAdministratorAccount), with the legacy "master" names.

The administrator acts through its own detector (``Call.detector``), the member as its own
account in the signing region, so neither can reach another account's members or invitations.
What this changes is who sees whose findings: ``keibi.store.members.visible_accounts``. The
AWS Organizations operations stay unsupported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final, Literal

from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.ops.detectors import _data_sources
from keibi.api.ops.paging import page
from keibi.api.protocol import bad_request, model
from keibi.store.detectors import find_detector
from keibi.store.members import (
    INVITED,
    NOT_ASSOCIATED,
    MemberRecord,
    MembershipError,
    Unprocessed,
    accept_invitation,
    administrator,
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
)

# The features a member detector reports (GetMemberDetectors' ``features[].name`` enum);
# CloudTrail, DNS and flow logs are foundational sources, reported under ``dataSources``.
MEMBER_FEATURES: Final = frozenset(model().shape_for("OrgFeature").enum)


def _iso(when: datetime) -> str:
    """GuardDuty's member and invitation times: ISO-8601 strings, milliseconds, UTC (``Z``)."""
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _unprocessed(items: Sequence[Unprocessed]) -> list[dict[str, str]]:
    return [{"accountId": u.account_id, "result": u.result} for u in items]


def _member(record: MemberRecord) -> dict[str, Any]:
    """A ``Member``. The member's detector id only once it accepted: an administrator must not
    learn whether an account it merely added has GuardDuty on."""
    out: dict[str, Any] = {
        "accountId": record.account_id,
        "masterId": record.administrator_id,
        "administratorId": record.administrator_id,
        "email": record.email,
        "relationshipStatus": record.relationship_status,
        "updatedAt": _iso(record.updated_at),
    }
    if record.associated and record.member_detector_id is not None:
        out["detectorId"] = record.member_detector_id
    if record.invited_at is not None:
        out["invitedAt"] = _iso(record.invited_at)
    return out


def _relationship(record: MemberRecord) -> dict[str, Any]:
    """The member's view of one relationship (``Invitation``, ``Administrator``, ``Master``)."""
    out: dict[str, Any] = {
        "accountId": record.administrator_id,
        "invitationId": record.invitation_id,
        "relationshipStatus": record.relationship_status,
    }
    if record.invited_at is not None:
        out["invitedAt"] = _iso(record.invited_at)
    return {k: v for k, v in out.items() if v is not None}


def _only_associated(call: Call) -> bool:
    """ListMembers' ``onlyAssociated``: a string, ``true`` unless said otherwise, as GuardDuty's."""
    value = str(call.params.get("onlyAssociated", "true")).lower()
    if value not in ("true", "false"):
        raise bad_request(
            "The request is rejected because the parameter onlyAssociated has an invalid value."
        )
    return value == "true"


# -- the administrator's side ------------------------------------------------------------------


@operation("CreateMembers")
def create(call: Call) -> dict[str, Any]:
    admin = call.detector()
    details = [(str(d["accountId"]), str(d["email"])) for d in call.params["accountDetails"]]
    return {"unprocessedAccounts": _unprocessed(create_members(call.store, admin, details, call.now))}


@operation("InviteMembers")
def invite(call: Call) -> dict[str, Any]:
    admin = call.detector()
    ids = [str(a) for a in call.params["accountIds"]]
    return {"unprocessedAccounts": _unprocessed(invite_members(call.store, admin, ids, call.now))}


@operation("ListMembers")
def list_all(call: Call) -> dict[str, Any]:
    admin = call.detector()
    found = list_members(call.store, admin, only_associated=_only_associated(call))
    items, token = page(call, found)
    return {"members": [_member(m) for m in items], **({"nextToken": token} if token else {})}


@operation("GetMembers")
def get(call: Call) -> dict[str, Any]:
    admin = call.detector()
    found, missing = get_members(call.store, admin, [str(a) for a in call.params["accountIds"]])
    return {"members": [_member(m) for m in found], "unprocessedAccounts": _unprocessed(missing)}


@operation("GetMemberDetectors")
def get_detectors(call: Call) -> dict[str, Any]:
    """The features of associated members' detectors, in GuardDuty's ``MemberDataSourceConfiguration``."""
    admin = call.detector()
    found, missing = get_members(call.store, admin, [str(a) for a in call.params["accountIds"]])
    configurations: list[dict[str, Any]] = []
    for record in found:
        detector = None
        if record.associated and record.member_detector_id is not None:
            detector = find_detector(call.store, record.member_detector_id)
        if detector is None:
            missing.append(Unprocessed(record.account_id, NOT_ASSOCIATED))
            continue
        configurations.append(
            {
                "accountId": record.account_id,
                "dataSources": _data_sources(detector.features),
                "features": [f for f in detector.features if f["name"] in MEMBER_FEATURES],
            }
        )
    return {"members": configurations, "unprocessedAccounts": _unprocessed(missing)}


@operation("StartMonitoringMembers")
def start(call: Call) -> dict[str, Any]:
    admin = call.detector()
    ids = [str(a) for a in call.params["accountIds"]]
    return {
        "unprocessedAccounts": _unprocessed(
            set_monitoring(call.store, admin, ids, monitored=True, now=call.now)
        )
    }


@operation("StopMonitoringMembers")
def stop(call: Call) -> dict[str, Any]:
    admin = call.detector()
    ids = [str(a) for a in call.params["accountIds"]]
    return {
        "unprocessedAccounts": _unprocessed(
            set_monitoring(call.store, admin, ids, monitored=False, now=call.now)
        )
    }


@operation("DisassociateMembers")
def disassociate(call: Call) -> dict[str, Any]:
    admin = call.detector()
    ids = [str(a) for a in call.params["accountIds"]]
    return {"unprocessedAccounts": _unprocessed(disassociate_members(call.store, admin, ids, call.now))}


@operation("DeleteMembers")
def delete(call: Call) -> dict[str, Any]:
    admin = call.detector()
    ids = [str(a) for a in call.params["accountIds"]]
    return {"unprocessedAccounts": _unprocessed(delete_members(call.store, admin, ids))}


# -- the member's side -------------------------------------------------------------------------


@operation("ListInvitations")
def list_invitations(call: Call) -> dict[str, Any]:
    items, token = page(call, invitations(call.store, call.account_id, call.region))
    return {"invitations": [_relationship(i) for i in items], **({"nextToken": token} if token else {})}


@operation("GetInvitationsCount")
def count_invitations(call: Call) -> dict[str, Any]:
    """Pending invitations only: GuardDuty leaves out the one the account accepted."""
    held = invitations(call.store, call.account_id, call.region)
    return {"invitationsCount": sum(i.relationship_status == INVITED for i in held)}


def _accept(call: Call, administrator_id: str) -> dict[str, Any]:
    member = call.detector()
    try:
        accept_invitation(call.store, member, administrator_id, str(call.params["invitationId"]), call.now)
    except MembershipError as err:
        raise bad_request(str(err)) from None
    return {}


@operation("AcceptAdministratorInvitation")
def accept(call: Call) -> dict[str, Any]:
    return _accept(call, str(call.params["administratorId"]))


@operation("AcceptInvitation")
def accept_legacy(call: Call) -> dict[str, Any]:
    return _accept(call, str(call.params["masterId"]))


def _drop(call: Call, verb: Literal["decline", "delete"]) -> dict[str, Any]:
    ids = [str(a) for a in call.params["accountIds"]]
    return {
        "unprocessedAccounts": _unprocessed(
            drop_invitations(call.store, call.account_id, call.region, ids, call.now, verb=verb)
        )
    }


@operation("DeclineInvitations")
def decline(call: Call) -> dict[str, Any]:
    return _drop(call, "decline")


@operation("DeleteInvitations")
def delete_invitations(call: Call) -> dict[str, Any]:
    return _drop(call, "delete")


def _administrator(call: Call, key: str) -> dict[str, Any]:
    """The administrator, under ``key``; nothing at all for an account without one, as GuardDuty."""
    member = call.detector()
    found = administrator(call.store, member.account_id, member.region)
    return {} if found is None else {key: _relationship(found)}


@operation("GetAdministratorAccount")
def get_administrator(call: Call) -> dict[str, Any]:
    return _administrator(call, "administrator")


@operation("GetMasterAccount")
def get_master(call: Call) -> dict[str, Any]:
    return _administrator(call, "master")


def _leave(call: Call) -> dict[str, Any]:
    member = call.detector()
    try:
        disassociate_from_administrator(call.store, member.account_id, member.region, call.now)
    except MembershipError as err:
        raise bad_request(str(err)) from None
    return {}


@operation("DisassociateFromAdministratorAccount")
def leave(call: Call) -> dict[str, Any]:
    return _leave(call)


@operation("DisassociateFromMasterAccount")
def leave_legacy(call: Call) -> dict[str, Any]:
    return _leave(call)
