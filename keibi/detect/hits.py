"""The hits frame: what every detector returns, in one fixed schema.

A hit is one aggregated occurrence group of one finding type:

- ``type``, ``severity``: the finding type and its numeric severity (max over the group).
- ``account_id``, ``region``, ``key``: the aggregation key; with ``type`` they decide the
  finding id, so repeats of the same activity update one finding.
- ``resource_role``: ``TARGET`` or ``ACTOR``.
- ``first_seen``, ``last_seen``, ``count``: event-time span and number of evidence records.
- ``rows``: indexes (column ``_row``) of the evidence records in the frame the detector got;
  ``last_row`` is the latest of them, whose details fill ``service.action``.
- ``info``: JSON object text merged into ``service.additionalInfo`` (thresholds crossed,
  list names), or null.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import polars as pl

from keibi.detect.types import FindingType

ROW: Final = "_row"

HITS: Final[pl.Schema] = pl.Schema(
    {
        "type": pl.String(),
        "severity": pl.Float64(),
        "account_id": pl.String(),
        "region": pl.String(),
        "key": pl.String(),
        "resource_role": pl.String(),
        "first_seen": pl.Datetime("us", "UTC"),
        "last_seen": pl.Datetime("us", "UTC"),
        "count": pl.UInt32(),
        "rows": pl.List(pl.UInt32()),
        "last_row": pl.UInt32(),
        "info": pl.String(),
    }
)


def no_hits() -> pl.DataFrame:
    return pl.DataFrame(schema=HITS)


def hits(
    rows: pl.DataFrame,
    ftype: FindingType,
    *,
    key: Sequence[str],
    severity: pl.Expr | float | None = None,
    resource_role: pl.Expr | str = "TARGET",
    info: pl.Expr | None = None,
) -> pl.DataFrame:
    """Fold evidence rows into hits, one per (account, region, role, ``key`` columns).

    ``rows`` are the matching records themselves (with ``_row``, ``event_time``,
    ``account_id``, ``region``). ``severity``, ``resource_role`` and ``info`` are evaluated
    per row; the group keeps the highest severity and the role/info of its latest row.
    """
    if rows.is_empty():
        return no_hits()
    sev = pl.lit(float(ftype.severity)) if severity is None else severity
    sev_expr = sev if isinstance(sev, pl.Expr) else pl.lit(float(sev))
    role = resource_role if isinstance(resource_role, pl.Expr) else pl.lit(resource_role)
    info_expr = info if info is not None else pl.lit(None, dtype=pl.String())
    key_expr = pl.concat_str([pl.col(k).cast(pl.String).fill_null("-") for k in key], separator="|")
    framed = rows.select(
        pl.col("account_id").fill_null(""),
        pl.col("region").fill_null(""),
        key_expr.alias("key"),
        role.alias("resource_role"),
        sev_expr.cast(pl.Float64).alias("severity"),
        info_expr.cast(pl.String).alias("info"),
        pl.col("event_time"),
        pl.col(ROW).cast(pl.UInt32),
    ).sort("event_time", ROW)
    grouped = framed.group_by("account_id", "region", "resource_role", "key", maintain_order=True).agg(
        pl.col("severity").max(),
        pl.col("event_time").min().alias("first_seen"),
        pl.col("event_time").max().alias("last_seen"),
        pl.len().cast(pl.UInt32).alias("count"),
        pl.col(ROW).alias("rows"),
        pl.col(ROW).last().alias("last_row"),
        pl.col("info").last(),
    )
    return grouped.with_columns(pl.lit(ftype.type).alias("type")).select(HITS.names()).cast(HITS)
