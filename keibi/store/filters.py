"""Saved filters and suppression rules of a detector (GuardDuty's CreateFilter … ListFilters).

A filter's ``rank`` is its position in the detector's list, 1 to n with no gaps, as GuardDuty
keeps it: a filter created without a rank goes last, one created or moved to a taken rank
pushes the filters from there on down by one, deleting one closes the gap, and a rank past
the end is refused (``RankOutOfBounds``; GuardDuty answers "rank is out-of-bounds" to a gap).
Writes lock the detector's row, so two concurrent writers cannot leave two filters at a rank.

A filter whose ``action`` is ``ARCHIVE`` is a suppression rule: a scan archives the new
findings it matches as it stores them (``Suppression``; finding_format.md §9.3). A member
account's findings are also held to its administrator's rules, as GuardDuty applies the
administrator's suppression rules to its members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from keibi.errors import StoreError
from keibi.findings.build import detector_id as detector_id_of
from keibi.findings.criteria import Criteria, CriteriaError, compile_criteria
from keibi.store.members import MONITORED
from keibi.store.store import Store
from keibi.store.tables import detectors, filters, members
from keibi.store.tags import add_tags, drop_tags

FILTER_QUOTA: Final = 100  # saved filters per account and region (GuardDuty's quota)
NOOP: Final = "NOOP"
ARCHIVE: Final = "ARCHIVE"


class FilterError(ValueError):
    """A filter write the detector's current filters do not allow."""


class FilterExists(FilterError):
    """The detector already has a filter of that name."""


class FilterQuotaExceeded(FilterError):
    """The detector already has ``FILTER_QUOTA`` filters."""


class RankOutOfBounds(FilterError):
    """The rank asked for would leave a gap after the detector's last filter."""


@dataclass(frozen=True, slots=True)
class FilterRecord:
    detector_id: str
    name: str
    action: str  # NOOP | ARCHIVE
    rank: int
    description: str
    criteria: dict[str, Any]  # FindingCriteria, wire form: {"criterion": {attribute: condition}}
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SuppressionRule:
    """An ARCHIVE filter with the account and region of the detector that owns it."""

    account_id: str
    region: str
    detector_id: str
    name: str
    rank: int
    criteria: Criteria


def _record(row: RowMapping) -> FilterRecord:
    return FilterRecord(
        detector_id=row["detector_id"],
        name=row["name"],
        action=row["action"],
        rank=int(row["rank"]),
        description=row["description"],
        criteria=orjson.loads(row["criteria"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _mine(detector_id: str) -> sa.ColumnElement[bool]:
    return filters.c.detector_id == detector_id


def _lock(conn: Connection, detector_id: str) -> None:
    """Serialise filter writes of one detector (SQLite already writes one transaction at a time)."""
    conn.execute(
        sa.select(detectors.c.detector_id).where(detectors.c.detector_id == detector_id).with_for_update()
    )


def _count(conn: Connection, detector_id: str) -> int:
    return int(conn.scalar(sa.select(sa.func.count()).select_from(filters).where(_mine(detector_id))) or 0)


def _shift(conn: Connection, detector_id: str, low: int, high: int | None, by: int) -> None:
    """Move the filters ranked ``low`` to ``high`` (inclusive; ``None``: to the end) by ``by``."""
    where = [_mine(detector_id), filters.c.rank >= low]
    if high is not None:
        where.append(filters.c.rank <= high)
    conn.execute(sa.update(filters).where(*where).values(rank=filters.c.rank + by))


def create_filter(
    store: Store,
    detector_id: str,
    *,
    name: str,
    action: str,
    rank: int | None,
    description: str,
    criteria: Mapping[str, Any],
    now: datetime,
    arn: str,
    tags_: Mapping[str, str] | None = None,
    quota: int = FILTER_QUOTA,
) -> FilterRecord:
    """The new filter, ranked ``rank`` (default: last), with its tags kept under ``arn``.

    Raises ``FilterExists``, ``FilterQuotaExceeded`` or ``RankOutOfBounds``.
    """
    with store.transaction("create a filter") as conn:
        _lock(conn, detector_id)
        taken = conn.scalar(sa.select(filters.c.name).where(_mine(detector_id), filters.c.name == name))
        if taken is not None:
            raise FilterExists(f"a filter named {name!r} already exists")
        count = _count(conn, detector_id)
        if count >= quota:
            raise FilterQuotaExceeded(f"the detector already has {count} filters, the most it may have")
        position = count + 1 if rank is None else rank
        if not 1 <= position <= count + 1:
            raise RankOutOfBounds(f"rank {position} is past the end of the {count} filters")
        _shift(conn, detector_id, position, None, 1)
        conn.execute(
            sa.insert(filters).values(
                detector_id=detector_id,
                name=name,
                action=action,
                rank=position,
                description=description,
                criteria=orjson.dumps(dict(criteria)).decode(),
                created_at=now,
                updated_at=now,
            )
        )
        add_tags(conn, arn, tags_ or {})
    found = get_filter(store, detector_id, name)
    assert found is not None
    return found


def get_filter(store: Store, detector_id: str, name: str) -> FilterRecord | None:
    with store.transaction("read a filter", read=True) as conn:
        row = (
            conn.execute(sa.select(filters).where(_mine(detector_id), filters.c.name == name))
            .mappings()
            .first()
        )
    return None if row is None else _record(row)


def list_filters(store: Store, detector_id: str) -> list[FilterRecord]:
    """The detector's filters in the order they apply: by rank, then name."""
    with store.transaction("list filters", read=True) as conn:
        rows = conn.execute(
            sa.select(filters).where(_mine(detector_id)).order_by(filters.c.rank, filters.c.name)
        ).mappings()
        return [_record(row) for row in rows]


def update_filter(
    store: Store,
    detector_id: str,
    name: str,
    *,
    now: datetime,
    action: str | None = None,
    description: str | None = None,
    criteria: Mapping[str, Any] | None = None,
    rank: int | None = None,
) -> FilterRecord | None:
    """The filter after the given changes, or ``None`` when the detector has no such filter.

    A new ``rank`` moves the filter there and the ones in between by one; a rank past the
    last filter raises ``RankOutOfBounds``.
    """
    values: dict[str, Any] = {"updated_at": now}
    if action is not None:
        values["action"] = action
    if description is not None:
        values["description"] = description
    if criteria is not None:
        values["criteria"] = orjson.dumps(dict(criteria)).decode()
    with store.transaction("update a filter") as conn:
        _lock(conn, detector_id)
        mine = sa.and_(_mine(detector_id), filters.c.name == name)
        old = conn.scalar(sa.select(filters.c.rank).where(mine))
        if old is None:
            return None
        if rank is not None and rank != old:
            count = _count(conn, detector_id)
            if not 1 <= rank <= count:
                raise RankOutOfBounds(f"rank {rank} is past the end of the {count} filters")
            if rank < old:
                _shift(conn, detector_id, rank, old - 1, 1)
            else:
                _shift(conn, detector_id, old + 1, rank, -1)
            values["rank"] = rank
        conn.execute(sa.update(filters).where(mine).values(**values))
    return get_filter(store, detector_id, name)


def delete_filter(store: Store, detector_id: str, name: str, arn: str) -> bool:
    """Delete the filter and its tags (kept under ``arn``); ``False`` if there was none."""
    with store.transaction("delete a filter") as conn:
        _lock(conn, detector_id)
        mine = sa.and_(_mine(detector_id), filters.c.name == name)
        rank = conn.scalar(sa.select(filters.c.rank).where(mine))
        if rank is None:
            return False
        conn.execute(sa.delete(filters).where(mine))
        drop_tags(conn, arn)
        _shift(conn, detector_id, rank + 1, None, -1)
    return True


def suppression_rules(store: Store) -> list[SuppressionRule]:
    """Every ARCHIVE filter of every detector, compiled, by account, region, then rank.

    Criteria were checked when the filter was saved; one that no longer compiles (saved by
    an older keibi) stops the scan with a ``StoreError`` naming it, rather than letting the
    findings it was meant to archive through unnoticed.
    """
    stmt = (
        sa.select(
            detectors.c.account_id,
            detectors.c.region,
            filters.c.detector_id,
            filters.c.name,
            filters.c.rank,
            filters.c.criteria,
        )
        .join(detectors, detectors.c.detector_id == filters.c.detector_id)
        .where(filters.c.action == ARCHIVE)
        .order_by(detectors.c.account_id, detectors.c.region, filters.c.rank, filters.c.name)
    )
    with store.transaction("read suppression rules", read=True) as conn:
        rows = conn.execute(stmt).all()
    rules = []
    for account, region, detector_id, name, rank, criteria in rows:
        try:
            compiled = compile_criteria(orjson.loads(criteria), allow_matches=True)
        except CriteriaError as err:
            raise StoreError(
                f"suppression rule {name!r} of account {account} in {region} cannot be applied: {err}"
            ) from err
        rules.append(SuppressionRule(account, region, detector_id, name, int(rank), compiled))
    return rules


def administrators(store: Store) -> dict[tuple[str, str], str]:
    """(member account, region) → the detector of the administrator monitoring it."""
    stmt = sa.select(members.c.account_id, members.c.region, members.c.detector_id).where(
        members.c.relationship_status == MONITORED
    )
    with store.transaction("read members", read=True) as conn:
        return {(str(a), str(r)): str(d) for a, r, d in conn.execute(stmt)}


@dataclass(frozen=True, slots=True)
class Suppression:
    """The suppression rules a scan holds its new findings to, loaded once per scan.

    A finding of account A in region R is held to the ARCHIVE filters of A's own detector in
    R, then to those of the administrator monitoring A in R, each list by rank; the first rule
    that matches archives it.

    >>> suppression = Suppression.load(store)
    >>> suppression.rule_for(finding)  # the SuppressionRule that archives it, or None
    """

    by_detector: Mapping[str, tuple[SuppressionRule, ...]] = field(default_factory=dict)
    administrator: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (member, region) → detector

    @classmethod
    def load(cls, store: Store) -> Suppression:
        return cls.of(suppression_rules(store), administrators(store))

    @classmethod
    def of(cls, rules: Iterable[SuppressionRule], admins: Mapping[tuple[str, str], str]) -> Suppression:
        grouped: dict[str, list[SuppressionRule]] = {}
        for rule in rules:
            grouped.setdefault(rule.detector_id, []).append(rule)
        ranked = {d: tuple(sorted(rs, key=lambda r: (r.rank, r.name))) for d, rs in grouped.items()}
        return cls(ranked, {k: d for k, d in admins.items() if d in ranked})

    def __bool__(self) -> bool:
        return bool(self.by_detector)

    def rules_for(self, account_id: str, region: str) -> list[SuppressionRule]:
        """The rules findings of ``account_id`` in ``region`` are held to, in the order applied."""
        found: list[SuppressionRule] = []
        if not self.by_detector:
            return found
        for detector_id in (detector_id_of(account_id, region), self.administrator.get((account_id, region))):
            if detector_id is not None:
                found.extend(self.by_detector.get(detector_id, ()))
        return found

    def rule_for(self, finding: Mapping[str, Any]) -> SuppressionRule | None:
        """The first rule that archives ``finding`` (GuardDuty JSON), or ``None``."""
        account, region = str(finding.get("accountId", "")), str(finding.get("region", ""))
        for rule in self.rules_for(account, region):
            if rule.criteria.matches(finding):
                return rule
        return None

    def archives(self, finding: Mapping[str, Any]) -> bool:
        """Whether a new ``finding`` is stored archived (``Store.upsert_findings(archive_new=...)``)."""
        return self.rule_for(finding) is not None
