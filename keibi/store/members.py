"""An administrator's member accounts and their invitations (GuardDuty's multi-account model).

One ``members`` row per (administrator's detector, member account) holds both sides of the
relationship: the administrator's member record and, while it carries an ``invitation_id``,
the member's invitation. Everything is per region, as GuardDuty's accounts are.

The relationship statuses are GuardDuty's: ``Created`` (added, not invited), ``Invited``,
``Enabled`` (accepted and monitored), ``Disabled`` (accepted, monitoring stopped by the
administrator), ``Removed`` (the administrator disassociated it) and ``Resigned`` (the member
left, or declined the invitation); both of the last two can be invited again. A member's
findings are the administrator's to see only while ``Enabled``; a member sees only its own.
An account has at most one administrator per region, and is never administrator and member
at once: an associated member cannot add members, an account with members cannot accept.

Refusals of one account among many are returned (``Unprocessed``, GuardDuty's
``unprocessedAccounts``), refusals of the whole call raised (``MembershipError``); the words
are GuardDuty's where they are known.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from keibi.findings.build import detector_id as detector_id_of
from keibi.store.detectors import DetectorRecord
from keibi.store.store import Store
from keibi.store.tables import detectors, members

CREATED: Final = "Created"
INVITED: Final = "Invited"
ENABLED: Final = "Enabled"
DISABLED: Final = "Disabled"
REMOVED: Final = "Removed"
RESIGNED: Final = "Resigned"
MONITORED: Final = ENABLED
ASSOCIATED: Final = (ENABLED, DISABLED)
# Statuses that make the detector's account an administrator (it may not accept invitations).
HOLDING: Final = (CREATED, INVITED, ENABLED, DISABLED)
MAX_MEMBERS: Final = 1000  # GuardDuty's quota of members added by invitation, per region

ACCOUNT_ID: Final = re.compile(r"[0-9]{12}")
EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")

INVALID: Final = (
    "The request is rejected because an invalid or out-of-range value is specified as an input parameter."
)
SELF: Final = "The request is rejected because an account cannot become a member of itself."
ALREADY_MEMBER: Final = (
    "The request is rejected because the given account ID is already a member or associated member of "
    "the current account."
)
OTHER_ADMINISTRATOR: Final = (
    "The request is rejected because the given account ID is already an associated member of another "
    "administrator account."
)
CALLER_IS_MEMBER: Final = (
    "The request is rejected because the current account cannot create or invite members since it is "
    "already an associated member of an administrator account."
)
TOO_MANY: Final = (
    "The request is rejected because the current account cannot create anymore members since it cannot "
    "exceed the maximum number of allowed members."
)
NOT_MEMBER: Final = (
    "The request is rejected because the given account ID is not a member of the current account."
)
NOT_ASSOCIATED: Final = (
    "The request is rejected because the given account ID is not an associated member of account the "
    "current account."
)
ALREADY_INVITED: Final = (
    "The request is rejected because the current account has already invited or is already the GuardDuty "
    "administrator of the given member account ID."
)
NO_INVITATION: Final = (
    "The request is rejected because the current account has no invitation from the given account ID."
)
STILL_ASSOCIATED: Final = (
    "The request is rejected because the current account cannot {verb} the invitation from the given "
    "account ID because it is still associated to it."
)
NO_PENDING_INVITATION: Final = (
    "The request is rejected because the current account has no pending invitation with the given "
    "invitation ID from the given administrator account ID."
)
HAS_MEMBERS: Final = (
    "The request is rejected because the current account cannot accept invitations because the account "
    "contains created, invited, or associated members."
)
HAS_ADMINISTRATOR: Final = (
    "The request is rejected because the current account cannot accept invitations because it is already "
    "a member of an administrator account."
)
NO_ADMINISTRATOR: Final = (
    "The request is rejected because the current account is not associated with an administrator account."
)


class MembershipError(Exception):
    """A whole call refused (AcceptAdministratorInvitation, DisassociateFromAdministratorAccount);
    the message is the one GuardDuty answers with."""


@dataclass(frozen=True, slots=True)
class Unprocessed:
    """One account a call did not act on, and GuardDuty's reason (``unprocessedAccounts[]``)."""

    account_id: str
    result: str


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One relationship; ``detector_id`` is the administrator's detector, ``member_detector_id``
    the member's own in the same region, when it has one."""

    detector_id: str
    account_id: str
    administrator_id: str
    region: str
    email: str
    relationship_status: str
    invitation_id: str | None
    invited_at: datetime | None
    updated_at: datetime
    member_detector_id: str | None

    @property
    def associated(self) -> bool:
        """Whether the member accepted and has not left or been removed since."""
        return self.relationship_status in ASSOCIATED


def _select() -> sa.Select[Any]:
    own = sa.and_(detectors.c.account_id == members.c.account_id, detectors.c.region == members.c.region)
    return sa.select(members, detectors.c.detector_id.label("member_detector_id")).select_from(
        members.outerjoin(detectors, own)
    )


def _record(row: RowMapping) -> MemberRecord:
    return MemberRecord(
        detector_id=row["detector_id"],
        account_id=row["account_id"],
        administrator_id=row["administrator_id"],
        region=row["region"],
        email=row["email"],
        relationship_status=row["relationship_status"],
        invitation_id=row["invitation_id"],
        invited_at=row["invited_at"],
        updated_at=row["updated_at"],
        member_detector_id=row["member_detector_id"],
    )


def _lock(conn: Connection, detector_id: str) -> None:
    """Serialise the membership changes of one account and region (PostgreSQL row lock on its
    detector; SQLite's write transactions are serial already), so two concurrent calls cannot
    both pass a check such as "has no administrator yet"."""
    conn.execute(
        sa.select(detectors.c.detector_id).where(detectors.c.detector_id == detector_id).with_for_update()
    )


def _administrator_row(conn: Connection, account_id: str, region: str) -> RowMapping | None:
    stmt = _select().where(
        members.c.account_id == account_id,
        members.c.region == region,
        members.c.relationship_status.in_(ASSOCIATED),
    )
    return conn.execute(stmt).mappings().first()


def _statuses(conn: Connection, detector_id: str, account_ids: Sequence[str]) -> dict[str, str]:
    stmt = sa.select(members.c.account_id, members.c.relationship_status).where(
        members.c.detector_id == detector_id, members.c.account_id.in_(list(set(account_ids)))
    )
    return {str(a): str(s) for a, s in conn.execute(stmt)}


def _associated_elsewhere(conn: Connection, admin: DetectorRecord, account_ids: Sequence[str]) -> set[str]:
    """Those of ``account_ids`` that are associated members of another administrator in the region."""
    stmt = sa.select(members.c.account_id).where(
        members.c.account_id.in_(list(set(account_ids))),
        members.c.region == admin.region,
        members.c.relationship_status.in_(ASSOCIATED),
        members.c.detector_id != admin.detector_id,
    )
    return {str(a) for a in conn.scalars(stmt)}


def _set(conn: Connection, detector_id: str, account_id: str, **values: Any) -> None:
    conn.execute(
        sa.update(members)
        .where(members.c.detector_id == detector_id, members.c.account_id == account_id)
        .values(**values)
    )


# -- the administrator's side ------------------------------------------------------------------


def create_members(
    store: Store, admin: DetectorRecord, details: Sequence[tuple[str, str]], now: datetime
) -> list[Unprocessed]:
    """Add (account id, email) pairs to ``admin``'s members as ``Created``."""
    ids = [account for account, _ in details]
    with store.transaction("create members") as conn:
        _lock(conn, admin.detector_id)
        if _administrator_row(conn, admin.account_id, admin.region) is not None:
            return [Unprocessed(account, CALLER_IS_MEMBER) for account in ids]
        existing = set(
            conn.scalars(sa.select(members.c.account_id).where(members.c.detector_id == admin.detector_id))
        )
        taken = _associated_elsewhere(conn, admin, ids)
        out: list[Unprocessed] = []
        rows: list[dict[str, Any]] = []
        for account, email in details:
            if ACCOUNT_ID.fullmatch(account) is None or EMAIL.fullmatch(email) is None:
                out.append(Unprocessed(account, INVALID))
            elif account == admin.account_id:
                out.append(Unprocessed(account, SELF))
            elif account in existing:
                out.append(Unprocessed(account, ALREADY_MEMBER))
            elif account in taken:
                out.append(Unprocessed(account, OTHER_ADMINISTRATOR))
            elif len(existing) >= MAX_MEMBERS:
                out.append(Unprocessed(account, TOO_MANY))
            else:
                existing.add(account)
                rows.append(
                    {
                        "detector_id": admin.detector_id,
                        "account_id": account,
                        "administrator_id": admin.account_id,
                        "region": admin.region,
                        "email": email,
                        "relationship_status": CREATED,
                        "invitation_id": None,
                        "invited_at": None,
                        "updated_at": now,
                    }
                )
        if rows:
            conn.execute(sa.insert(members), rows)
    return out


def invite_members(
    store: Store, admin: DetectorRecord, account_ids: Sequence[str], now: datetime
) -> list[Unprocessed]:
    """Invite members that are not invited or associated already; each gets a new invitation id,
    which the member sees in ``invitations`` in the same region."""
    with store.transaction("invite members") as conn:
        _lock(conn, admin.detector_id)
        if _administrator_row(conn, admin.account_id, admin.region) is not None:
            return [Unprocessed(account, CALLER_IS_MEMBER) for account in account_ids]
        status = _statuses(conn, admin.detector_id, account_ids)
        taken = _associated_elsewhere(conn, admin, account_ids)
        out: list[Unprocessed] = []
        for account in account_ids:
            now_status = status.get(account)
            if now_status is None:
                out.append(Unprocessed(account, NOT_MEMBER))
            elif now_status in (INVITED, *ASSOCIATED):
                out.append(Unprocessed(account, ALREADY_INVITED))
            elif account in taken:
                out.append(Unprocessed(account, OTHER_ADMINISTRATOR))
            else:
                status[account] = INVITED
                _set(
                    conn,
                    admin.detector_id,
                    account,
                    relationship_status=INVITED,
                    invitation_id=uuid.uuid4().hex,
                    invited_at=now,
                    updated_at=now,
                )
    return out


def list_members(store: Store, admin: DetectorRecord, *, only_associated: bool) -> list[MemberRecord]:
    stmt = _select().where(members.c.detector_id == admin.detector_id)
    if only_associated:
        stmt = stmt.where(members.c.relationship_status.in_(ASSOCIATED))
    with store.transaction("read members", read=True) as conn:
        rows = conn.execute(stmt.order_by(members.c.account_id)).mappings().all()
    return [_record(r) for r in rows]


def get_members(
    store: Store, admin: DetectorRecord, account_ids: Sequence[str]
) -> tuple[list[MemberRecord], list[Unprocessed]]:
    """``admin``'s members among ``account_ids`` (in the order asked), and the ids that are not."""
    stmt = _select().where(
        members.c.detector_id == admin.detector_id, members.c.account_id.in_(list(set(account_ids)))
    )
    with store.transaction("read members", read=True) as conn:
        found = {r.account_id: r for r in (_record(row) for row in conn.execute(stmt).mappings())}
    records = [found[a] for a in dict.fromkeys(account_ids) if a in found]
    return records, [Unprocessed(a, NOT_MEMBER) for a in dict.fromkeys(account_ids) if a not in found]


def set_monitoring(
    store: Store, admin: DetectorRecord, account_ids: Sequence[str], *, monitored: bool, now: datetime
) -> list[Unprocessed]:
    """Start (``Enabled``) or stop (``Disabled``) monitoring associated members."""
    target = ENABLED if monitored else DISABLED
    out: list[Unprocessed] = []
    with store.transaction("update members") as conn:
        status = _statuses(conn, admin.detector_id, account_ids)
        for account in dict.fromkeys(account_ids):
            if status.get(account) not in ASSOCIATED:
                out.append(Unprocessed(account, NOT_ASSOCIATED))
            elif status[account] != target:
                _set(conn, admin.detector_id, account, relationship_status=target, updated_at=now)
    return out


def disassociate_members(
    store: Store, admin: DetectorRecord, account_ids: Sequence[str], now: datetime
) -> list[Unprocessed]:
    """End the relationship with invited or associated members (``Removed``); their details stay,
    so they can be invited again without CreateMembers."""
    out: list[Unprocessed] = []
    with store.transaction("disassociate members") as conn:
        status = _statuses(conn, admin.detector_id, account_ids)
        for account in dict.fromkeys(account_ids):
            if account not in status:
                out.append(Unprocessed(account, NOT_MEMBER))
            elif status[account] in (INVITED, *ASSOCIATED):
                _set(
                    conn,
                    admin.detector_id,
                    account,
                    relationship_status=REMOVED,
                    invitation_id=None,
                    updated_at=now,
                )
    return out


def delete_members(store: Store, admin: DetectorRecord, account_ids: Sequence[str]) -> list[Unprocessed]:
    """Forget members (disassociating those still associated)."""
    with store.transaction("delete members") as conn:
        status = _statuses(conn, admin.detector_id, account_ids)
        conn.execute(
            sa.delete(members).where(
                members.c.detector_id == admin.detector_id, members.c.account_id.in_(list(status))
            )
        )
    return [Unprocessed(a, NOT_MEMBER) for a in dict.fromkeys(account_ids) if a not in status]


# -- the member's side -------------------------------------------------------------------------


def invitations(store: Store, account_id: str, region: str) -> list[MemberRecord]:
    """The invitations ``account_id`` holds in ``region``: pending ones and the one it accepted."""
    stmt = _select().where(
        members.c.account_id == account_id,
        members.c.region == region,
        members.c.invitation_id.is_not(None),
    )
    with store.transaction("read invitations", read=True) as conn:
        rows = conn.execute(stmt.order_by(members.c.invited_at, members.c.administrator_id)).mappings().all()
    return [_record(r) for r in rows]


def accept_invitation(
    store: Store, member: DetectorRecord, administrator_id: str, invitation_id: str, now: datetime
) -> None:
    """Make ``member``'s account an ``Enabled`` member of ``administrator_id`` in the member's
    detector's region; raises ``MembershipError`` unless that invitation is pending there."""
    admin_detector = detector_id_of(administrator_id, member.region)
    with store.transaction("accept invitation") as conn:
        _lock(conn, member.detector_id)
        holding = sa.select(members.c.account_id).where(
            members.c.detector_id == member.detector_id, members.c.relationship_status.in_(HOLDING)
        )
        if conn.execute(holding.limit(1)).first() is not None:
            raise MembershipError(HAS_MEMBERS)
        if _administrator_row(conn, member.account_id, member.region) is not None:
            raise MembershipError(HAS_ADMINISTRATOR)
        accepted = conn.execute(
            sa.update(members)
            .where(
                members.c.detector_id == admin_detector,
                members.c.account_id == member.account_id,
                members.c.region == member.region,
                members.c.administrator_id == administrator_id,
                members.c.relationship_status == INVITED,
                members.c.invitation_id == invitation_id,
            )
            .values(relationship_status=ENABLED, updated_at=now)
        )
        if accepted.rowcount != 1:
            raise MembershipError(NO_PENDING_INVITATION)


def drop_invitations(
    store: Store,
    account_id: str,
    region: str,
    administrator_ids: Sequence[str],
    now: datetime,
    *,
    verb: Literal["decline", "delete"],
) -> list[Unprocessed]:
    """Decline or delete the invitations ``account_id`` holds in ``region`` from
    ``administrator_ids``: they leave its list, and a pending one leaves the administrator's
    member ``Resigned``. The invitation of its current administrator stays (leave it with
    ``disassociate_from_administrator``)."""
    out: list[Unprocessed] = []
    with store.transaction(f"{verb} invitations") as conn:
        for admin in dict.fromkeys(administrator_ids):
            where = (
                members.c.detector_id == detector_id_of(admin, region),
                members.c.account_id == account_id,
                members.c.region == region,
                members.c.administrator_id == admin,
                members.c.invitation_id.is_not(None),
            )
            status = conn.scalar(sa.select(members.c.relationship_status).where(*where))
            if status is None:
                out.append(Unprocessed(admin, NO_INVITATION))
            elif status in ASSOCIATED:
                out.append(Unprocessed(admin, STILL_ASSOCIATED.format(verb=verb)))
            else:
                left = RESIGNED if status == INVITED else status
                conn.execute(
                    sa.update(members)
                    .where(*where)
                    .values(relationship_status=left, invitation_id=None, updated_at=now)
                )
    return out


def administrator(store: Store, account_id: str, region: str) -> MemberRecord | None:
    """``account_id``'s relationship with its administrator in ``region``, if it has one."""
    with store.transaction("read administrator", read=True) as conn:
        row = _administrator_row(conn, account_id, region)
    return None if row is None else _record(row)


def administrator_of(store: Store, account_id: str, region: str) -> str | None:
    """The account id of ``account_id``'s administrator in ``region`` (monitored or not), if any."""
    found = administrator(store, account_id, region)
    return None if found is None else found.administrator_id


def disassociate_from_administrator(store: Store, account_id: str, region: str, now: datetime) -> None:
    """The member leaves its administrator in ``region`` (``Resigned``), which stops seeing its
    findings; raises ``MembershipError`` when it has none."""
    with store.transaction("disassociate from administrator") as conn:
        left = conn.execute(
            sa.update(members)
            .where(
                members.c.account_id == account_id,
                members.c.region == region,
                members.c.relationship_status.in_(ASSOCIATED),
            )
            .values(relationship_status=RESIGNED, invitation_id=None, updated_at=now)
        )
        if left.rowcount == 0:
            raise MembershipError(NO_ADMINISTRATOR)


# -- findings ----------------------------------------------------------------------------------


def visible_accounts(store: Store, account_id: str, region: str) -> list[str]:
    """The accounts whose findings in ``region`` ``account_id`` may see: its own, then those of
    its members that accepted and are monitored."""
    admin_detector = detector_id_of(account_id, region)
    with store.transaction("read members", read=True) as conn:
        found: Sequence[str] = conn.scalars(
            sa.select(members.c.account_id)
            .where(
                members.c.detector_id == admin_detector,
                members.c.region == region,
                members.c.relationship_status == MONITORED,
            )
            .order_by(members.c.account_id)
        ).all()
    return [account_id, *(a for a in found if a != account_id)]
