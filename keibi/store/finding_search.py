"""Finding search for GuardDuty's ListFindings and GetFindingsStatistics: FindingCriteria in SQL
where the ``findings`` columns answer them exactly, the rest in Python over the candidates' JSON.

Every query is held to the caller's ``account_ids`` and ``region`` first, whatever the criteria
say: that is the boundary between tenants, so no criterion can widen it.

A term is pushed down to SQL (:func:`pushdown`) when a column holds exactly what
``Criteria.matches`` reads from the JSON (``keibi.store._rows.finding_row`` derives both from
the same finding): ``accountId``, ``region``, ``id``, ``type``, ``severity``, ``createdAt``,
``updatedAt``, ``resource.resourceType``, ``service.archived``, ``service.count``,
``service.eventFirstSeen`` and ``service.eventLastSeen``. This relies on a stored finding
carrying those members in their botocore types (numbers as numbers, times as ISO text), as
keibi's builder and GuardDuty's findings do. ``equals`` on a resource identifier (instance,
ENI, access key, principal, user name, bucket name) narrows the candidates through
``finding_resources`` and is still checked on the JSON, since that table does not say which
attribute an identifier came from. Everything else is checked by ``Criteria.matches`` on
candidates streamed from the database a chunk at a time.

Order: by the sort attribute, findings without it last, ties by id (so pages are stable); in
SQL for a column, else in Python keeping only the ``offset + limit + 1`` first keys. Without a
sort GuardDuty promises no order; keibi lists the most recently updated first.

>>> ids, more = search_findings(store, account_ids=["111122223333"], region="us-east-1",
...                             criteria=compile_criteria(body.get("findingCriteria")),
...                             sort=("severity", "DESC"), offset=0, limit=50)
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Final, Literal

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keibi.findings.criteria import (
    RANGE_OPS,
    Criteria,
    CriteriaError,
    Op,
    Term,
    attribute_values,
    check_attribute,
    criterion_integer,
    criterion_number,
    epoch_millis,
    timestamp_attributes,
)
from keibi.store.store import Store
from keibi.store.tables import finding_resources, findings

STREAM_ROWS: Final = 500  # candidates read from the database at a time
DEFAULT_SORT: Final = ("updatedAt", "DESC")
GROUP_BY: Final = ("ACCOUNT", "DATE", "FINDING_TYPE", "RESOURCE", "SEVERITY")
STATISTIC_TYPES: Final = ("COUNT_BY_SEVERITY",)
DEFAULT_GROUPS: Final = 25  # GetFindingsStatistics maxResults default
MAX_GROUPS: Final = 100

Kind = Literal["str", "float", "int", "bool", "time"]


@dataclass(frozen=True, slots=True)
class _Column:
    column: sa.Column[Any]
    kind: Kind
    nullable: bool = False


_c = findings.c
COLUMNS: Final[Mapping[str, _Column]] = {
    "accountId": _Column(_c.account_id, "str"),
    "region": _Column(_c.region, "str"),
    "id": _Column(_c.id, "str"),
    "type": _Column(_c.type, "str"),
    "severity": _Column(_c.severity, "float"),
    "createdAt": _Column(_c.created_at, "time"),
    "updatedAt": _Column(_c.updated_at, "time"),
    "resource.resourceType": _Column(_c.resource_type, "str", nullable=True),
    "service.archived": _Column(_c.archived, "bool"),
    "service.count": _Column(_c.count, "int"),
    "service.eventFirstSeen": _Column(_c.event_first_seen, "time", nullable=True),
    "service.eventLastSeen": _Column(_c.event_last_seen, "time", nullable=True),
}

# Attributes whose every value ``keibi.store._rows.resource_ids`` keeps in ``finding_resources``.
RESOURCE_ID_ATTRIBUTES: Final = frozenset(
    {
        "resource.instanceDetails.instanceId",
        "resource.instanceDetails.networkInterfaces.networkInterfaceId",
        "resource.accessKeyDetails.accessKeyId",
        "resource.accessKeyDetails.principalId",
        "resource.accessKeyDetails.userName",
        "resource.s3BucketDetails.name",
    }
)

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Pushdown:
    """How criteria split: ``where`` holds in SQL; ``residual`` is what Python still checks
    (``exact`` when nothing is left to it)."""

    where: tuple[sa.ColumnElement[bool], ...]
    residual: Criteria

    @property
    def exact(self) -> bool:
        return not self.residual.terms


# -- criteria → SQL --------------------------------------------------------------------------


def _at(ms: int) -> datetime | None:
    """The instant ``ms`` milliseconds after the epoch; ``None`` past what a datetime holds,
    and so past every stored time."""
    try:
        return _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:
        return None


def _from(col: sa.Column[Any], ms: int) -> sa.ColumnElement[bool]:
    """``col`` at or after millisecond ``ms`` (a null column is not)."""
    at = _at(ms)
    if at is None:
        return col.is_not(None) if ms < 0 else sa.false()
    return col >= at


def _before(col: sa.Column[Any], ms: int) -> sa.ColumnElement[bool]:
    """``col`` before millisecond ``ms`` (a null column is not)."""
    at = _at(ms)
    if at is None:
        return sa.false() if ms < 0 else col.is_not(None)
    return col < at


def _sendable(values: Sequence[str]) -> bool:
    """Whether ``values`` can be bound in SQL on both databases (PostgreSQL text holds no NUL)."""
    return not any("\x00" in v for v in values)


def _any_equal(term: Term, spec: _Column, attribute: str) -> sa.ColumnElement[bool] | None:
    """SQL true exactly when ``Criteria.matches`` finds the column's value among ``term.values``;
    ``None`` when SQL cannot say so exactly."""
    col = spec.column
    if spec.kind == "str":
        if not _sendable(term.values):
            return None
        return col.in_(term.values) if term.values else sa.false()
    if spec.kind == "bool":
        wanted = {v.lower() == "true" for v in term.values if v.lower() in ("true", "false")}
        if not wanted:
            return sa.false()
        return sa.true() if len(wanted) == 2 else col.is_(wanted.pop())
    if spec.kind == "time":
        millis = [criterion_integer(v) for v in term.values]
        if any(ms is None for ms in millis):
            return None  # ISO text: compared as text, in Python
        spans = [sa.and_(_from(col, ms), _before(col, ms + 1)) for ms in millis if ms is not None]
        return sa.or_(*spans) if spans else sa.false()
    parts: list[sa.ColumnElement[bool]] = []
    for text in term.values:
        number = criterion_number(text)
        if number is None:
            continue
        if spec.kind == "float" and attribute == "severity" and criterion_integer(text) is not None:
            parts.append(sa.and_(col >= number, col < number + 1))
        elif spec.kind == "int":
            if number.is_integer() and abs(number) < 2**62:  # no stored count is larger
                parts.append(col == int(number))
        else:
            parts.append(col == number)
    return sa.or_(*parts) if parts else sa.false()


def _range(term: Term, spec: _Column) -> sa.ColumnElement[bool] | None:
    col = spec.column
    if spec.kind == "str":
        return None
    if spec.kind == "bool":
        return sa.false()
    n = term.number
    if spec.kind == "time":
        if term.op is Op.GREATER_THAN:
            return _from(col, n + 1)
        if term.op is Op.GREATER_THAN_OR_EQUAL:
            return _from(col, n)
        if term.op is Op.LESS_THAN:
            return _before(col, n)
        return _before(col, n + 1)
    if term.op is Op.GREATER_THAN:
        return col > n
    if term.op is Op.GREATER_THAN_OR_EQUAL:
        return col >= n
    if term.op is Op.LESS_THAN:
        return col < n
    return col <= n


def _term_sql(term: Term) -> sa.ColumnElement[bool] | None:
    spec = COLUMNS.get(term.attribute)
    if spec is None:
        return None
    if term.op in RANGE_OPS:
        return _range(term, spec)
    if term.op is Op.EQUALS:
        return _any_equal(term, spec, term.attribute)
    if term.op is Op.NOT_EQUALS:
        equal = _any_equal(term, spec, term.attribute)
        if equal is None:
            return None
        return sa.or_(spec.column.is_(None), sa.not_(equal)) if spec.nullable else sa.not_(equal)
    return None  # matches / notMatches: wildcard semantics stay in Python


def pushdown(criteria: Criteria) -> Pushdown:
    """Split ``criteria`` into SQL conditions on ``findings`` and the terms left to Python."""
    where: list[sa.ColumnElement[bool]] = []
    residual: list[Term] = []
    for term in criteria.terms:
        condition = _term_sql(term)
        if condition is not None:
            where.append(condition)
            continue
        residual.append(term)
        if (
            term.attribute in RESOURCE_ID_ATTRIBUTES
            and term.op is Op.EQUALS
            and all(term.values)
            and _sendable(term.values)
        ):
            owners = sa.select(finding_resources.c.finding_id).where(
                finding_resources.c.resource_id.in_(term.values)
            )
            where.append(findings.c.id.in_(owners))
    return Pushdown(tuple(where), Criteria(tuple(residual)))


def _scope(account_ids: Sequence[str], region: str) -> list[sa.ColumnElement[bool]]:
    return [findings.c.account_id.in_(list(dict.fromkeys(account_ids))), findings.c.region == region]


def _stream(conn: Connection, stmt: sa.Select[Any]) -> Iterator[Sequence[Any]]:
    """Rows of ``stmt`` fetched ``STREAM_ROWS`` at a time (a server-side cursor on PostgreSQL)."""
    result = conn.execute(stmt.execution_options(yield_per=STREAM_ROWS))
    for chunk in result.partitions():
        yield from chunk


# -- ListFindings ----------------------------------------------------------------------------


class _Desc:
    """Reverses the order of what it wraps, so one ascending heap serves both directions."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.value == other.value

    def __hash__(self) -> int:
        return hash(self.value)


def _sortable(value: Any, timestamp: bool) -> tuple[int, Any] | None:
    """A value as the Python sort compares it: numbers (and timestamps, as epoch milliseconds)
    before text."""
    if timestamp:
        ms = epoch_millis(value)
        return None if ms is None else (0, ms)
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    return None


def sort_key(finding: Mapping[str, Any], attribute: str, descending: bool) -> tuple[Any, ...]:
    """Where ``finding`` goes when sorting by ``attribute`` in Python: by its least value
    ascending, its greatest descending, findings without one last, ties by id in the sort's
    direction (as ``_order`` in SQL); the id itself is the last item."""
    timestamp = attribute in timestamp_attributes()
    found = [
        s for s in (_sortable(v, timestamp) for v in attribute_values(finding, attribute)) if s is not None
    ]
    fid = str(finding.get("id", ""))
    tie = _Desc(fid) if descending else fid
    if not found:
        return (1, None, tie, fid)
    return (0, _Desc(max(found)), tie, fid) if descending else (0, min(found), tie, fid)


def check_sort(sort: tuple[str, str] | None) -> tuple[str, bool]:
    """(attribute, descending) of a ListFindings ``sortCriteria``; the default when ``None``."""
    attribute, order = sort if sort is not None else DEFAULT_SORT
    check_attribute(attribute, "The sortCriteria attributeName")
    if order not in ("ASC", "DESC"):
        raise CriteriaError(f"The sortCriteria orderBy {order!r} is neither ASC nor DESC.")
    return attribute, order == "DESC"


def _order(spec: _Column, descending: bool, dialect: str) -> list[sa.ColumnElement[Any]]:
    """ORDER BY for a column sort: absent values last, ties by id in the sort's direction (so
    one index, ``(region, column, id, …)`` from migration v8, serves the whole order and a page
    reads only its own rows); text by code point (the ``C`` collation on PostgreSQL, whose
    database default may sort by language rules), as SQLite and the Python sort do."""

    def plain(col: sa.Column[Any]) -> sa.ColumnElement[Any]:
        return col.collate("C") if dialect == "postgresql" else col

    col = plain(spec.column) if spec.kind == "str" else spec.column
    keys: list[sa.ColumnElement[Any]] = (
        [sa.case((spec.column.is_(None), 1), else_=0)] if spec.nullable else []
    )
    fid = plain(findings.c.id)
    return [*keys, col.desc() if descending else col.asc(), fid.desc() if descending else fid.asc()]


def search_findings(
    store: Store,
    *,
    account_ids: Sequence[str],
    region: str,
    criteria: Criteria,
    sort: tuple[str, str] | None = None,
    offset: int = 0,
    limit: int = 50,
) -> tuple[list[str], bool]:
    """The ids of one page of the findings of ``account_ids`` in ``region`` that ``criteria``
    select, sorted by ``sort`` (attribute, ``"ASC"``/``"DESC"``; default ``updatedAt`` DESC),
    and whether more follow. Raises ``CriteriaError`` for a sort GuardDuty would refuse."""
    attribute, descending = check_sort(sort)
    if offset < 0 or limit < 1:
        raise CriteriaError(
            f"A page starts at 0 or later and holds at least one finding, not {offset}+{limit}."
        )
    if not account_ids:
        return [], False
    plan = pushdown(criteria)
    where = [*_scope(account_ids, region), *plan.where]
    spec = COLUMNS.get(attribute)
    with store.transaction("search findings", read=True) as conn:
        if spec is not None and plan.exact:
            stmt = (
                sa.select(findings.c.id).where(*where).order_by(*_order(spec, descending, conn.dialect.name))
            )
            ids = list(conn.scalars(stmt.offset(offset).limit(limit + 1)))
            return ids[:limit], len(ids) > limit
        if spec is not None:
            ordered = (
                sa.select(findings.c.id, findings.c.data)
                .where(*where)
                .order_by(*_order(spec, descending, conn.dialect.name))
            )
            page: list[str] = []
            skipped = 0
            for fid, data in _stream(conn, ordered):
                if not plan.residual.matches(orjson.loads(data)):
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                page.append(fid)
                if len(page) > limit:
                    return page[:limit], True
            return page, False
        unordered = sa.select(findings.c.data).where(*where)
        keys = (sort_key(f, attribute, descending) for f in _matching(conn, unordered, plan.residual))
        first = heapq.nsmallest(offset + limit + 1, keys)
    ids = [str(key[-1]) for key in first[offset:]]
    return ids[:limit], len(ids) > limit


def _matching(conn: Connection, stmt: sa.Select[Any], residual: Criteria) -> Iterator[dict[str, Any]]:
    for (data,) in _stream(conn, stmt):
        finding = orjson.loads(data)
        if residual.matches(finding):
            yield finding


# -- GetFindingsStatistics ------------------------------------------------------------------

# groupBy → (the wire member of findingStatistics, the columns a group is keyed by)
_GROUPS: Final[Mapping[str, tuple[str, tuple[str, ...]]]] = {
    "ACCOUNT": ("groupedByAccount", ("account_id",)),
    "DATE": ("groupedByDate", ("day", "severity")),
    "FINDING_TYPE": ("groupedByFindingType", ("type",)),
    "RESOURCE": ("groupedByResource", ("account_id", "resource_type", "resource_id")),
    "SEVERITY": ("groupedBySeverity", ("severity",)),
}

Group = tuple[Any, ...]


def _epoch_seconds(when: datetime) -> float:
    return when.timestamp()


def _day(value: Any) -> date:
    """The UTC day SQL or Python computed for a finding's ``updatedAt``."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _key_columns(names: Sequence[str], dialect: str) -> list[sa.ColumnElement[Any]]:
    out: list[sa.ColumnElement[Any]] = []
    for name in names:
        if name == "day":
            updated = findings.c.updated_at
            day = (
                sa.func.date(updated)
                if dialect == "sqlite"
                else sa.func.date(sa.func.timezone("UTC", updated))
            )
            out.append(day.label("day"))
        else:
            out.append(findings.c[name])
    return out


def _aggregate(
    conn: Connection,
    names: Sequence[str],
    where: Sequence[sa.ColumnElement[bool]],
    residual: Criteria,
) -> dict[Group, tuple[int, datetime]]:
    """key → (findings, latest ``updatedAt``), grouped in SQL when no term is left to Python."""
    out: dict[Group, tuple[int, datetime]] = {}
    if not residual.terms:
        keys = _key_columns(names, conn.dialect.name)
        stmt = (
            sa.select(*keys, sa.func.count(), sa.func.max(findings.c.updated_at))
            .where(*where)
            .group_by(*keys)
        )
        for grouped in conn.execute(stmt):
            key = tuple(_day(v) if n == "day" else v for n, v in zip(names, grouped, strict=False))
            out[key] = (int(grouped[-2]), grouped[-1])
        return out
    columns = [findings.c[n] for n in names if n != "day"]
    candidates = sa.select(findings.c.data, findings.c.updated_at, *columns).where(*where)
    for row in _stream(conn, candidates):
        if not residual.matches(orjson.loads(row[0])):
            continue
        updated: datetime = row[1]
        values = iter(row[2:])
        key = tuple(_day(updated) if n == "day" else next(values) for n in names)
        count, latest = out.get(key, (0, updated))
        out[key] = (count + 1, max(latest, updated))
    return out


def _ordered(groups: Mapping[Group, tuple[int, datetime]], descending: bool) -> list[Group]:
    """Keys by count (most first when ``descending``), ties by key, absent parts last."""

    def tie(key: Group) -> tuple[Any, ...]:
        return tuple((v is None, v if v is not None else "") for v in key)

    by_key = sorted(groups, key=tie)
    return sorted(by_key, key=lambda k: groups[k][0], reverse=descending)


def _entry(by: str, key: Group, count: int, latest: datetime) -> dict[str, Any]:
    out: dict[str, Any]
    if by == "ACCOUNT":
        out = {"accountId": key[0]}
    elif by == "DATE":
        midnight = datetime(key[0].year, key[0].month, key[0].day, tzinfo=UTC)
        out = {"date": _epoch_seconds(midnight), "severity": float(key[1])}
    elif by == "FINDING_TYPE":
        out = {"findingType": key[0]}
    elif by == "RESOURCE":
        out = {"accountId": key[0], "resourceType": key[1], "resourceId": key[2]}
    else:
        out = {"severity": float(key[0])}
    out |= {"lastGeneratedAt": _epoch_seconds(latest), "totalFindings": count}
    return {k: v for k, v in out.items() if v is not None}


def finding_statistics(
    store: Store,
    *,
    account_ids: Sequence[str],
    region: str,
    criteria: Criteria,
    group_by: str | None,
    statistic_types: Sequence[str] = (),
    order_by: str | None = None,
    max_results: int | None = None,
) -> dict[str, Any]:
    """GetFindingsStatistics' ``findingStatistics`` (wire form) over the findings of
    ``account_ids`` in ``region`` that ``criteria`` select.

    ``statistic_types`` ``COUNT_BY_SEVERITY`` gives ``countBySeverity`` (severity as text, such
    as ``"8.0"`` → findings). ``group_by`` gives the matching ``groupedBy…`` list: one entry per
    account, type, severity, resource (``finding_resources``' most specific identifier, as
    ``findings.resource_id``) or UTC day of ``updatedAt`` and severity, each with
    ``totalFindings`` and ``lastGeneratedAt`` (the latest ``updatedAt``; times in epoch
    seconds, rest-json's form); sorted by ``totalFindings`` (``order_by``, DESC by default),
    at most ``max_results`` (default 25) entries. Raises ``CriteriaError`` for an unknown
    grouping, statistic or order, or ``max_results`` outside 1–100.
    """
    if group_by is not None and group_by not in GROUP_BY:
        raise CriteriaError(f"The groupBy {group_by!r} is not one of {', '.join(GROUP_BY)}.")
    for kind in statistic_types:
        if kind not in STATISTIC_TYPES:
            raise CriteriaError(
                f"The findingStatisticType {kind!r} is not one of {', '.join(STATISTIC_TYPES)}."
            )
    if order_by is not None and order_by not in ("ASC", "DESC"):
        raise CriteriaError(f"The orderBy {order_by!r} is neither ASC nor DESC.")
    most = DEFAULT_GROUPS if max_results is None else max_results
    if isinstance(most, bool) or not isinstance(most, int) or not 1 <= most <= MAX_GROUPS:
        raise CriteriaError(f"The maxResults {max_results!r} is not between 1 and {MAX_GROUPS}.")
    plan = pushdown(criteria)
    where = [*_scope(account_ids, region), *plan.where]
    out: dict[str, Any] = {}
    with store.transaction("count findings", read=True) as conn:
        if "COUNT_BY_SEVERITY" in statistic_types:
            counts = _aggregate(conn, ("severity",), where, plan.residual) if account_ids else {}
            out["countBySeverity"] = {str(float(k[0])): n for k, (n, _) in sorted(counts.items())}
        if group_by is not None:
            member, names = _GROUPS[group_by]
            groups = _aggregate(conn, names, where, plan.residual) if account_ids else {}
            keys = _ordered(groups, descending=order_by != "ASC")[:most]
            out[member] = [_entry(group_by, k, *groups[k]) for k in keys]
    return out
