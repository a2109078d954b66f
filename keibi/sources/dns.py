"""Route 53 Resolver query logs → ``DNS`` frames.

Records as Resolver delivers them to S3 (JSON lines; also a JSON array or a single
document), with ``query_timestamp`` in ISO-8601 or ``YYYY-MM-DD HH:MM:SS`` and ``answers``
kept as JSON text.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson
import polars as pl

from keibi.sources._frames import series
from keibi.sources._json import Batch, gc_paused
from keibi.sources._paths import DEFAULT_REGION, account_region
from keibi.sources._times import iso_time
from keibi.sources.report import Report
from keibi.sources.schema import DNS

_EMPTY: Final[dict[str, Any]] = {}

_RAW: Final[dict[str, pl.DataType]] = {
    "raw_time": pl.String(),
    "raw_account": pl.String(),
    "raw_region": pl.String(),
    "version": pl.String(),
    "vpc_id": pl.String(),
    "query_name": pl.String(),
    "query_type": pl.String(),
    "query_class": pl.String(),
    "rcode": pl.String(),
    "answers": pl.String(),
    "srcaddr": pl.String(),
    "raw_srcport": pl.String(),
    "transport": pl.String(),
    "instance_id": pl.String(),
    "resolver_endpoint_id": pl.String(),
    "firewall_rule_action": pl.String(),
    "firewall_rule_group_id": pl.String(),
    "firewall_domain_list_id": pl.String(),
}


def row(rec: dict[str, Any]) -> tuple[Any, ...]:
    get = rec.get
    ids = get("srcids")
    if type(ids) is not dict:
        ids = _EMPTY
    answers = get("answers")
    port = get("srcport")
    return (
        get("query_timestamp"),
        get("account_id"),
        get("region"),
        get("version"),
        get("vpc_id"),
        get("query_name"),
        get("query_type"),
        get("query_class"),
        get("rcode"),
        None if answers is None else orjson.dumps(answers).decode(),
        get("srcaddr"),
        port if port is None else str(port),
        get("transport"),
        ids.get("instance"),
        ids.get("resolver_endpoint"),
        get("firewall_rule_action"),
        get("firewall_rule_group_id"),
        get("firewall_domain_list_id"),
    )


def frame(batch: Batch, path: str, report: Report) -> pl.DataFrame:
    """One ``DNS`` frame from ``row``'s tuples; rows without a valid ``query_timestamp`` are reported."""
    kept, rows = batch
    with gc_paused():
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in _RAW]
        raw = pl.DataFrame(
            [series(name, col, dtype) for (name, dtype), col in zip(_RAW.items(), columns, strict=True)]
        )
    account, region = account_region(path)
    out = raw.with_columns(
        event_time=iso_time(pl.col("raw_time")),
        account_id=pl.coalesce("raw_account", pl.lit(account or "")),
        region=pl.coalesce("raw_region", pl.lit(region or DEFAULT_REGION)),
        _file=pl.lit(path, pl.String),
        _line=pl.Series(kept, dtype=pl.UInt32),
        srcport=pl.col("raw_srcport").cast(pl.Int32, strict=False),
    )
    bad = out.filter(pl.col("event_time").is_null())
    if not bad.is_empty():
        for line, value in zip(bad["_line"], bad["raw_time"], strict=True):
            report.error(
                path, line, "no query_timestamp" if value is None else f"invalid query_timestamp {value!r}"
            )
        out = out.filter(pl.col("event_time").is_not_null())
    return out.select(DNS.names())


def frames(batches: Iterator[Batch], path: str, report: Report) -> Iterator[pl.DataFrame]:
    """``DNS`` frames from batches of rows (see ``_json``)."""
    for batch in batches:
        yield frame(batch, path, report)


__all__ = ["frame", "frames", "row"]
