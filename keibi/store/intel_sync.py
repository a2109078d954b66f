"""Refreshing stored lists (``keibi intel update``): fetch, parse, keep a new version when the
content changed, and record what went wrong when it did not work.

For each list that is due (``IntelListRecord.is_due``; every list when ``force``):

1. fetch its location with the ETag and Last-Modified of the current version, so an unchanged
   remote list costs one small "not modified" answer (``keibi.intel.fetch``);
2. if the content is the current version's (not modified, or the same SHA-256), only the
   fetch state is noted;
3. otherwise parse it in the list's format (``keibi.intel.parse_list``) and save it as the new
   version; bad entries are skipped and reported, the good ones load. A download that yields
   no entry at all but has bad ones (an HTML error page served with status 200, a rate-limit
   notice) is refused, so it never replaces a good version;
4. any failure (network, HTTP status, size, format) is recorded as the list's ``last_error``
   and the current version stays in use.

AWS's ``ip-ranges.json`` is refreshed the same way as the list ``aws-ip-ranges``, which an
unnamed refresh creates (from :data:`~keibi.store.intel_lists.AWS_IP_RANGES_URL`) when the
store lacks it; :func:`aws_ranges` gives the stored ranges for a scan.

    >>> refresh(store, now=datetime.now(UTC))               # doctest: +SKIP
    [RefreshResult(name='tor-exits', status='updated', version='3fa1c09b2d7e', ...), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

import orjson

from keibi.errors import ConfigError, InputError
from keibi.intel import AwsRanges
from keibi.intel.fetch import DEFAULT_MAX_BYTES, DEFAULT_TIMEOUT, Fetched, Fetcher, fetch
from keibi.intel.lists import parse_list
from keibi.store.intel_lists import AWS_RANGES_FORMAT, AWS_RANGES_LIST, IntelListRecord, IntelListSpec
from keibi.store.store import Store

RefreshStatus = Literal["updated", "unchanged", "not-due", "failed"]

STATUSES: Final[tuple[RefreshStatus, ...]] = ("updated", "unchanged", "not-due", "failed")


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What one list's refresh did.

    ``status``: ``"updated"`` (a new version was saved), ``"unchanged"`` (fetched, same
    content), ``"not-due"`` (skipped: fetched recently enough) or ``"failed"`` (``error`` says
    why; the current version stays). ``version``/``entries``: the list's current version after
    the refresh; ``problems``: the bad entries skipped in a new version; ``next_refresh``: when
    the list is next due (``None`` if inactive).
    """

    name: str
    status: RefreshStatus
    version: str | None
    entries: int | None
    problems: tuple[InputError, ...] = ()
    error: str | None = None
    next_refresh: datetime | None = None


def refresh(
    store: Store,
    names: Sequence[str] | None = None,
    *,
    force: bool = False,
    now: datetime,
    fetcher: Fetcher = fetch,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> list[RefreshResult]:
    """Refresh the lists named (any of them, active or not), or every active list and AWS's IP
    ranges when ``names`` is ``None``; lists not due are skipped unless ``force``.

    Raises ``ConfigError`` for a name the store does not hold (``aws-ip-ranges`` is created
    when named). One list failing never stops the others: its result says why.
    """
    known = {record.name: record for record in store.intel_lists()}
    if names is None:
        if AWS_RANGES_LIST not in known:
            known[AWS_RANGES_LIST] = _add_aws_ranges(store, now)
        targets = [record for record in known.values() if record.active]
    else:
        unknown = [name for name in names if name not in known and name != AWS_RANGES_LIST]
        if unknown:
            raise ConfigError(f"no intel list named {unknown[0]!r}")
        if AWS_RANGES_LIST in names and AWS_RANGES_LIST not in known:
            known[AWS_RANGES_LIST] = _add_aws_ranges(store, now)
        targets = [known[name] for name in dict.fromkeys(names)]
    return [
        _refresh_one(
            store, record, force=force, now=now, fetcher=fetcher, timeout=timeout, max_bytes=max_bytes
        )
        for record in targets
    ]


def aws_ranges(store: Store) -> AwsRanges | None:
    """AWS's IP ranges as last refreshed into the store; ``None`` when they never were or the
    ``aws-ip-ranges`` list is inactive (a scan then uses the snapshot shipped with keibi)."""
    record = store.intel_list(AWS_RANGES_LIST)
    if record is None or not record.active:
        return None
    document = store.intel_document(AWS_RANGES_LIST)
    if document is None:
        return None
    return _parse_aws_ranges(document, record.location)


def _add_aws_ranges(store: Store, now: datetime) -> IntelListRecord:
    with suppress(ConfigError):  # added by another process meanwhile
        store.add_intel_list(IntelListSpec.aws_ranges(), at=now)
    record = store.intel_list(AWS_RANGES_LIST)
    assert record is not None
    return record


def _parse_aws_ranges(data: bytes, where: str) -> AwsRanges:
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"not an AWS ip-ranges.json: {exc}", where) from None
    return AwsRanges.from_document(doc, source=where)


def _refresh_one(
    store: Store,
    record: IntelListRecord,
    *,
    force: bool,
    now: datetime,
    fetcher: Fetcher,
    timeout: float,
    max_bytes: int,
) -> RefreshResult:
    name = record.name
    if not force and not record.is_due(now):
        return RefreshResult(
            name, "not-due", record.version, record.entries, next_refresh=record.next_refresh
        )
    stored = record.version is not None
    problems: tuple[InputError, ...] = ()
    try:
        fetched = fetcher(
            record.location,
            etag=record.etag if stored else None,
            last_modified=record.last_modified if stored else None,
            timeout=timeout,
            max_bytes=max_bytes,
        )
        if stored and (fetched.data is None or fetched.sha256 == record.sha256):
            store.record_intel_check(name, now, fetched=fetched)
            status: RefreshStatus = "unchanged"
        elif fetched.data is None:
            raise ConfigError("the source answered 'not modified' to a first fetch", record.location)
        elif record.format == AWS_RANGES_FORMAT:
            ranges = _parse_aws_ranges(fetched.data, record.location)
            store.save_intel_document(name, fetched, len(ranges), now)
            status = "updated"
        else:
            problems = _save_list(store, record, fetched, now)
            status = "updated"
    except ConfigError as exc:
        store.record_intel_check(name, now, error=str(exc))
        status = "failed"
    after = store.intel_list(name)
    assert after is not None
    return RefreshResult(
        name,
        status,
        after.version,
        after.entries,
        problems=problems,
        error=after.last_error if status == "failed" else None,
        next_refresh=after.next_refresh,
    )


def _save_list(
    store: Store, record: IntelListRecord, fetched: Fetched, now: datetime
) -> tuple[InputError, ...]:
    assert fetched.data is not None and record.kind != "aws"
    lst = parse_list(
        fetched.data,
        record.format,
        where=record.location,
        name=record.name,
        kind=record.kind,
        category=record.category,
        now=now,
    )
    if len(lst) == 0 and lst.problems:
        first = lst.problems[0]
        raise ConfigError(
            f"no usable entry (first problem, line {first.line}: {first.reason}); kept the current version",
            record.location,
        )
    store.save_intel_version(record.name, lst, fetched, now)
    return lst.problems


__all__ = ["STATUSES", "RefreshResult", "RefreshStatus", "aws_ranges", "refresh"]
