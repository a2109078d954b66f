"""GuardDuty's IPSets, ThreatIntelSets, TrustedEntitySets and ThreatEntitySets, kept as keibi's
own intel lists (finding_format.md §8).

One ``api_lists`` row per list says what its owner asked for (name, format, location as given,
status); the content lives in the intel list ``intel_name`` (``keibi.store.intel_lists``), so
the one fetcher, parser and version store serve both ``keibi intel add`` and the API. IPSets
and TrustedEntitySets are ``trusted`` lists, the other two ``threat`` lists of category
``custom`` (the ``.Custom`` finding types).

Naming. Intel list names are global in the store, list names are the owner's, so the intel
list is named ``api:{kind}:{list_id}`` and two accounts may both call a list "bad-actors".
Findings carry the list name that matched (``threatListName``, from ``IntelList.name``);
:func:`scan_lists` is the store's active lists with each API-made one renamed to its owner's
name, so findings say "bad-actors" as GuardDuty's do. Renaming at that one point keeps the
matcher, the findings builder and the version store unaware of the API. A scan that reads
``Store.active_intel_lists()`` directly still matches these lists, and names them by the
unambiguous ``api:…`` name.

Scope. A list applies to its own account's records in its detector's Region and, while that
account administers members, to those of its members whose relationship is ``Enabled``
(``keibi.store.members.MONITORED``), as in GuardDuty. :func:`scan_lists` gives each API-made
list that ``IntelList.scope``; the enrichment matches it only on records of those (account,
Region) pairs (``keibi.intel.lookup``). Every other list (keibi.toml, flags, ``keibi intel
add``, feeds) applies to all records.

Activation is synchronous: ``activate`` fetches and parses the list inside the request
(``keibi.store.intel_sync.refresh``, bounded by its timeout), then the list is ``ACTIVE`` and
matched by scans, or ``ERROR`` and not matched (even if an earlier version was stored: GuardDuty
uses no list in ERROR). A list is ``ACTIVATING`` only while that fetch runs. ``INACTIVE``
lists keep their intel list, switched off. Re-activating fetches again, as GuardDuty asks
after a file changes; ``keibi intel update`` also refreshes active API lists on its schedule.

Errors. GuardDuty's Get answers have no error member for IP lists, and ``errorDetails`` for
entity lists. ``error`` holds what a caller may be told: a fetch failure as the fetcher words
it (the location and the reason), a file that fetched but could not be read as one sentence
without its content, since the location may be a server file the caller cannot read
otherwise. The full reason (with the bad entries) is the intel list's ``last_error``, for
the operator (``keibi intel list``), and the API logs it.

Quotas per detector (account and region): one IPSet, one TrustedEntitySet, six threat lists of
both threat kinds together. Names are unique per detector and kind; IP list names are
letters, digits, ``-``, ``_`` and spaces, entity list names the same without spaces.

Beyond GuardDuty: a location may also be a local path or ``file://`` (on the server), or any
``http(s)://`` URL; GuardDuty's S3 URL forms (path style, virtual-host style) are fetched as
``s3://bucket/key`` with the server's own AWS credentials. ``expectedBucketOwner`` is kept and
shown but not enforced (the fetcher does not send it). Legacy IP lists accept IPv4 only in
GuardDuty; keibi reads every entry of the file into any kind, so an IPSet or ThreatIntelSet
also matches IPv6 addresses and domains it lists (DNS findings included). No entry or size
quota applies, as for every keibi list.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from keibi.errors import ConfigError
from keibi.intel import IntelList
from keibi.intel.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, Fetched, Fetcher, fetch, scheme_of
from keibi.store import _intel
from keibi.store.intel_lists import IntelListKind, IntelListSpec
from keibi.store.intel_sync import refresh
from keibi.store.members import MONITORED
from keibi.store.store import Store
from keibi.store.tables import api_lists, detectors, intel_list_versions, intel_lists, members
from keibi.store.tags import add_tags, drop_tags

ListKind = Literal["IPSet", "ThreatIntelSet", "TrustedEntitySet", "ThreatEntitySet"]
ListStatus = Literal["INACTIVE", "ACTIVATING", "ACTIVE", "ERROR"]

KINDS: Final[tuple[ListKind, ...]] = ("IPSet", "ThreatIntelSet", "TrustedEntitySet", "ThreatEntitySet")
ENTITY_KINDS: Final[tuple[ListKind, ...]] = ("TrustedEntitySet", "ThreatEntitySet")
THREAT_KINDS: Final[tuple[ListKind, ...]] = ("ThreatIntelSet", "ThreatEntitySet")
INTEL_KIND: Final[dict[ListKind, IntelListKind]] = {
    "IPSet": "trusted",
    "ThreatIntelSet": "threat",
    "TrustedEntitySet": "trusted",
    "ThreatEntitySet": "threat",
}
TRUSTED_QUOTA: Final = 1  # IPSets, and TrustedEntitySets, each per account and region
THREAT_QUOTA: Final = 6  # ThreatIntelSets and ThreatEntitySets together, per account and region
INTEL_PREFIX: Final = "api:"

_IP_LIST_NAME: Final = re.compile(r"[A-Za-z0-9_ -]*[A-Za-z0-9_-][A-Za-z0-9_ -]*")
_ENTITY_LIST_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")
_S3_PATH_HOST: Final = re.compile(r"s3(?:[.-][a-z0-9.-]+)?")
_S3_VIRTUAL_HOST: Final = re.compile(r"(?P<bucket>[a-z0-9][a-z0-9.-]*?)\.s3(?:[.-][a-z0-9.-]+)?")
_AWS_DOMAINS: Final = (".amazonaws.com", ".amazonaws.com.cn")


class ApiListError(ValueError):
    """A list write the detector's lists, or the request itself, do not allow."""


class ListNameInvalid(ApiListError):
    """The name has characters the kind does not allow."""


class ListNameTaken(ApiListError):
    """The detector already has a list of that kind and name."""


class ListQuotaExceeded(ApiListError):
    """The detector already holds as many lists of the kind as GuardDuty allows."""


class ListLocationInvalid(ApiListError):
    """The location is nothing keibi can fetch."""


@dataclass(frozen=True, slots=True)
class ApiListRecord:
    """A list as the API shows it; ``location`` as its owner gave it, ``error`` what a caller may
    be told about the last failed activation (``None`` unless ``status`` is ``ERROR``)."""

    list_id: str
    detector_id: str
    kind: ListKind
    name: str
    intel_name: str
    format: str
    location: str
    expected_bucket_owner: str | None
    status: ListStatus
    error: str | None
    created_at: datetime
    updated_at: datetime


def intel_name_of(kind: ListKind, list_id: str) -> str:
    return f"{INTEL_PREFIX}{kind}:{list_id}"


def check_name(kind: ListKind, name: str) -> str:
    """``name`` if the kind allows it, else ``ListNameInvalid`` saying what is allowed."""
    if kind in ENTITY_KINDS:
        if _ENTITY_LIST_NAME.fullmatch(name) is None:
            raise ListNameInvalid("a name has only letters, digits, hyphens (-) and underscores (_)")
    elif _IP_LIST_NAME.fullmatch(name) is None:
        raise ListNameInvalid("a name has only letters, digits, spaces, hyphens (-) and underscores (_)")
    return name


def source_of(location: str) -> str:
    """Where keibi fetches a list the owner placed at ``location``: GuardDuty's HTTPS S3 URLs
    (``https://s3[-.region].amazonaws.com/bucket/key``, ``https://bucket.s3[-.region].amazonaws.com/key``)
    become ``s3://bucket/key``; ``s3://``, other ``http(s)://`` URLs, ``file://`` and local
    paths stay as they are. Raises ``ListLocationInvalid`` for anything else."""
    text = location.strip()
    scheme = scheme_of(text)
    if not text or scheme not in ("s3", "http", "https", "file"):
        raise ListLocationInvalid(
            "a location is an S3 URL (s3://bucket/key or https://s3.amazonaws.com/bucket/key), "
            "another http(s):// URL, or a file on the keibi server"
        )
    if scheme == "s3":
        bucket, _, key = text[len("s3://") :].partition("/")
        return _s3(bucket, key)
    if scheme in ("http", "https"):
        return _from_s3_url(text) or text
    return text


def _s3(bucket: str, key: str) -> str:
    if not bucket or not key or key.endswith("/"):
        raise ListLocationInvalid("an S3 location names one object: s3://bucket/key")
    return f"s3://{bucket}/{key}"


def _from_s3_url(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    host = (parts.hostname or "").lower()
    domain = next((d for d in _AWS_DOMAINS if host.endswith(d)), None)
    if domain is None:
        return None
    head = host[: -len(domain)]
    path = urllib.parse.unquote(parts.path)
    if _S3_PATH_HOST.fullmatch(head):
        bucket, _, key = path.lstrip("/").partition("/")
        return _s3(bucket, key)
    virtual = _S3_VIRTUAL_HOST.fullmatch(head)
    if virtual is not None:
        return _s3(virtual["bucket"], path.lstrip("/"))
    return None


def _record(row: RowMapping) -> ApiListRecord:
    return ApiListRecord(
        list_id=row["list_id"],
        detector_id=row["detector_id"],
        kind=row["kind"],
        name=row["name"],
        intel_name=row["intel_name"],
        format=row["format"],
        location=row["location"],
        expected_bucket_owner=row["expected_bucket_owner"],
        status=row["status"],
        error=row["error"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _lock(conn: Connection, detector_id: str) -> None:
    """Serialise list writes of one detector, so quotas and names hold under concurrent calls
    (SQLite already writes one transaction at a time)."""
    conn.execute(
        sa.select(detectors.c.detector_id).where(detectors.c.detector_id == detector_id).with_for_update()
    )


def _mine(detector_id: str, kind: ListKind, list_id: str) -> sa.ColumnElement[bool]:
    t = api_lists.c
    return sa.and_(t.detector_id == detector_id, t.kind == kind, t.list_id == list_id)


def _check_name_free(
    conn: Connection, detector_id: str, kind: ListKind, name: str, other_than: str | None = None
) -> None:
    t = api_lists.c
    stmt = sa.select(t.list_id).where(t.detector_id == detector_id, t.kind == kind, t.name == name)
    if other_than is not None:
        stmt = stmt.where(t.list_id != other_than)
    if conn.execute(stmt).first() is not None:
        raise ListNameTaken(f"a {kind} named {name!r} already exists")


def _check_quota(conn: Connection, detector_id: str, kind: ListKind) -> None:
    group, quota = (THREAT_KINDS, THREAT_QUOTA) if kind in THREAT_KINDS else ((kind,), TRUSTED_QUOTA)
    t = api_lists.c
    held = conn.scalar(
        sa.select(sa.func.count())
        .select_from(api_lists)
        .where(t.detector_id == detector_id, t.kind.in_(group))
    )
    if int(held or 0) >= quota:
        raise ListQuotaExceeded(f"the detector already has {held} of at most {quota} {' or '.join(group)}s")


def _intel_row(kind: ListKind, intel_name: str, fmt: str, source: str, now: datetime) -> dict[str, Any]:
    spec = IntelListSpec(name=intel_name, kind=INTEL_KIND[kind], format=fmt, location=source, active=False)
    try:
        return _intel.spec_row(_intel.checked(spec), now)
    except ConfigError as err:
        raise ListLocationInvalid(err.reason) from None


def _drop_intel(conn: Connection, intel_name: str) -> None:
    conn.execute(sa.delete(intel_list_versions).where(intel_list_versions.c.list_name == intel_name))
    conn.execute(sa.delete(intel_lists).where(intel_lists.c.name == intel_name))


def create_list(
    store: Store,
    detector_id: str,
    *,
    list_id: str,
    kind: ListKind,
    name: str,
    fmt: str,
    location: str,
    activate: bool,
    now: datetime,
    arn: str,
    expected_bucket_owner: str | None = None,
    tags_: dict[str, str] | None = None,
    fetcher: Fetcher = fetch,
) -> ApiListRecord:
    """The new list ``list_id`` (32 hex digits, as GuardDuty's), fetched now when ``activate``
    (module docstring), with its tags under ``arn``.

    Raises ``ListNameInvalid``, ``ListLocationInvalid``, ``ListNameTaken`` or ``ListQuotaExceeded``.
    """
    check_name(kind, name)
    source = source_of(location)
    intel_name = intel_name_of(kind, list_id)
    intel_row = _intel_row(kind, intel_name, fmt, source, now)
    with store.transaction("create a list") as conn:
        _lock(conn, detector_id)
        _check_name_free(conn, detector_id, kind, name)
        _check_quota(conn, detector_id, kind)
        conn.execute(sa.insert(intel_lists).values(**intel_row))
        conn.execute(
            sa.insert(api_lists).values(
                list_id=list_id,
                detector_id=detector_id,
                kind=kind,
                name=name,
                intel_name=intel_name,
                format=fmt,
                location=location,
                expected_bucket_owner=expected_bucket_owner,
                status="ACTIVATING" if activate else "INACTIVE",
                error=None,
                created_at=now,
                updated_at=now,
            )
        )
        add_tags(conn, arn, tags_ or {})
    made = _activate(store, detector_id, kind, list_id, now, fetcher) if activate else None
    found = made or get_list(store, detector_id, kind, list_id)
    assert found is not None
    return found


def get_list(store: Store, detector_id: str, kind: ListKind, list_id: str) -> ApiListRecord | None:
    with store.transaction("read a list", read=True) as conn:
        row = conn.execute(sa.select(api_lists).where(_mine(detector_id, kind, list_id))).mappings().first()
    return None if row is None else _record(row)


def list_lists(store: Store, detector_id: str, kind: ListKind) -> list[ApiListRecord]:
    """The detector's lists of ``kind``, oldest first."""
    t = api_lists.c
    stmt = (
        sa.select(api_lists)
        .where(t.detector_id == detector_id, t.kind == kind)
        .order_by(t.created_at, t.list_id)
    )
    with store.transaction("list lists", read=True) as conn:
        return [_record(row) for row in conn.execute(stmt).mappings()]


def update_list(
    store: Store,
    detector_id: str,
    kind: ListKind,
    list_id: str,
    *,
    now: datetime,
    name: str | None = None,
    location: str | None = None,
    activate: bool | None = None,
    expected_bucket_owner: str | None = None,
    fetcher: Fetcher = fetch,
) -> ApiListRecord | None:
    """The list after the changes, or ``None`` when the detector has no such list.

    ``activate=True`` fetches again; ``False`` switches the list off. A new ``location`` starts
    the list afresh from there (the old content is dropped), fetched at once unless the list is
    ``INACTIVE``. Raises ``ListNameInvalid``, ``ListLocationInvalid`` or ``ListNameTaken``.
    """
    if name is not None:
        check_name(kind, name)
    source = source_of(location) if location is not None else None
    with store.transaction("update a list") as conn:
        _lock(conn, detector_id)
        row = conn.execute(sa.select(api_lists).where(_mine(detector_id, kind, list_id))).mappings().first()
        if row is None:
            return None
        old = _record(row)
        values: dict[str, Any] = {"updated_at": now}
        if name is not None:
            _check_name_free(conn, detector_id, kind, name, other_than=list_id)
            values["name"] = name
        if expected_bucket_owner is not None:
            values["expected_bucket_owner"] = expected_bucket_owner
        moved = source is not None and location != old.location
        if moved:
            assert source is not None and location is not None
            intel_row = _intel_row(kind, old.intel_name, old.format, source, now)
            _drop_intel(conn, old.intel_name)
            conn.execute(sa.insert(intel_lists).values(**intel_row))
            values["location"] = location
        fetch_now = activate is True or (activate is None and moved and old.status != "INACTIVE")
        if fetch_now:
            values |= {"status": "ACTIVATING", "error": None}
        elif activate is False or (moved and old.status == "INACTIVE"):
            values |= {"status": "INACTIVE", "error": None}
            conn.execute(
                sa.update(intel_lists).where(intel_lists.c.name == old.intel_name).values(active=False)
            )
        conn.execute(sa.update(api_lists).where(_mine(detector_id, kind, list_id)).values(**values))
    if fetch_now:
        return _activate(store, detector_id, kind, list_id, now, fetcher)
    return get_list(store, detector_id, kind, list_id)


def delete_list(store: Store, detector_id: str, kind: ListKind, list_id: str, arn: str) -> bool:
    """Delete the list, its intel list and its tags (kept under ``arn``); ``False`` if there was none."""
    with store.transaction("delete a list") as conn:
        _lock(conn, detector_id)
        intel_name = conn.scalar(sa.select(api_lists.c.intel_name).where(_mine(detector_id, kind, list_id)))
        if intel_name is None:
            return False
        conn.execute(sa.delete(api_lists).where(_mine(detector_id, kind, list_id)))
        _drop_intel(conn, intel_name)
        drop_tags(conn, arn)
    return True


def delete_detector_lists(conn: Connection, detector_id: str) -> None:
    """Inside the transaction that deletes a detector: drop its lists' intel lists too, so no
    scan matches a list whose detector is gone (``keibi.store.detectors.delete_detector``)."""
    names = conn.scalars(
        sa.select(api_lists.c.intel_name).where(api_lists.c.detector_id == detector_id)
    ).all()
    for intel_name in names:
        _drop_intel(conn, intel_name)
    conn.execute(sa.delete(api_lists).where(api_lists.c.detector_id == detector_id))


def shown_names(store: Store) -> dict[str, str]:
    """Intel list name → the name its owner gave it, for every API-made list."""
    with store.transaction("read list names", read=True) as conn:
        return {str(i): str(n) for i, n in conn.execute(sa.select(api_lists.c.intel_name, api_lists.c.name))}


def scan_lists(store: Store) -> list[IntelList]:
    """``Store.active_intel_lists()`` as a scan should match them: each API-made list under its
    owner's name (what findings show as ``threatListName``) and with its scope (module
    docstring), and lists left behind by an API list that is gone (its detector deleted
    without :func:`delete_detector_lists`) left out."""
    lists = store.active_intel_lists()
    owned = _owned(store)
    out: list[IntelList] = []
    for lst in lists:
        if not lst.name.startswith(INTEL_PREFIX):
            out.append(lst)
        elif lst.name in owned:
            name, scope = owned[lst.name]
            out.append(replace(lst, name=name, scope=scope))
    return out


def _owned(store: Store) -> dict[str, tuple[str, frozenset[tuple[str, str]]]]:
    """Intel list name → its owner's name for it and the (account, Region) pairs it applies
    to, for every API-made list whose detector is there."""
    t, d, m = api_lists.c, detectors.c, members.c
    with store.transaction("read list owners", read=True) as conn:
        rows = conn.execute(
            sa.select(t.intel_name, t.name, d.detector_id, d.account_id, d.region).select_from(
                api_lists.join(detectors, t.detector_id == d.detector_id)
            )
        ).all()
        monitored = conn.execute(
            sa.select(m.detector_id, m.account_id, m.region).where(m.relationship_status == MONITORED)
        ).all()
    scope: dict[str, set[tuple[str, str]]] = {}
    for detector_id, account_id, region in monitored:
        scope.setdefault(str(detector_id), set()).add((str(account_id), str(region)))
    out: dict[str, tuple[str, frozenset[tuple[str, str]]]] = {}
    for intel_name, name, detector_id, account_id, region in rows:
        own = (str(account_id), str(region))
        held = {pair for pair in scope.get(str(detector_id), set()) if pair[1] == own[1]}
        out[str(intel_name)] = (str(name), frozenset({own, *held}))
    return out


class _WatchedFetcher:
    """``fetcher``, noting whether the fetch itself failed: a fetch failure names the location
    and why (safe to show the caller), a parse failure may quote the file (it is not)."""

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher
        self.failure: ConfigError | None = None

    def __call__(
        self,
        location: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> Fetched:
        try:
            return self.fetcher(
                location, etag=etag, last_modified=last_modified, timeout=timeout, max_bytes=max_bytes
            )
        except ConfigError as err:
            self.failure = err
            raise


def _activate(
    store: Store, detector_id: str, kind: ListKind, list_id: str, now: datetime, fetcher: Fetcher
) -> ApiListRecord | None:
    """Fetch the list now and settle its status: ACTIVE (matched by scans) or ERROR (not)."""
    record = get_list(store, detector_id, kind, list_id)
    if record is None:
        return None
    watched = _WatchedFetcher(fetcher)
    try:
        [result] = refresh(store, [record.intel_name], force=True, now=now, fetcher=watched)
        failed = result.status == "failed"
    except ConfigError:  # the intel list went with the list, deleted meanwhile
        return get_list(store, detector_id, kind, list_id)
    error: str | None = None
    if failed:
        reason = (
            watched.failure.reason
            if watched.failure is not None
            else f"the file could not be read as a {record.format} list"
        )
        error = f"{record.location}: {reason}"
    with store.transaction("settle a list") as conn:
        done = conn.execute(
            sa.update(api_lists)
            .where(_mine(detector_id, kind, list_id), api_lists.c.status == "ACTIVATING")
            .values(status="ERROR" if failed else "ACTIVE", error=error, updated_at=now)
        )
        if done.rowcount:
            conn.execute(
                sa.update(intel_lists)
                .where(intel_lists.c.name == record.intel_name)
                .values(active=not failed)
            )
    return get_list(store, detector_id, kind, list_id)


def intel_error(store: Store, record: ApiListRecord) -> str | None:
    """The full reason the list's last fetch failed (with the file's bad entries), for logs."""
    found = store.intel_list(record.intel_name)
    return None if found is None else found.last_error


__all__ = [
    "ENTITY_KINDS",
    "INTEL_KIND",
    "INTEL_PREFIX",
    "KINDS",
    "THREAT_KINDS",
    "THREAT_QUOTA",
    "TRUSTED_QUOTA",
    "ApiListError",
    "ApiListRecord",
    "ListKind",
    "ListLocationInvalid",
    "ListNameInvalid",
    "ListNameTaken",
    "ListQuotaExceeded",
    "ListStatus",
    "check_name",
    "create_list",
    "delete_detector_lists",
    "delete_list",
    "get_list",
    "intel_error",
    "intel_name_of",
    "list_lists",
    "scan_lists",
    "shown_names",
    "source_of",
    "update_list",
]
