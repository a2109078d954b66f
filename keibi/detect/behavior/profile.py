"""Per-entity profiles: what each entity has done, kept compact, on event time.

A profile is a frame of :data:`PROFILE` rows, one per (entity, feature, value): a principal's
``api`` ``iam:CreateAccessKey``, an instance's ``remote_port`` ``5432``. Each row keeps when
the value was first and last seen, how often and on how many distinct days; volume rows
(``fold_amounts``) also keep the peak and total of the per-window amounts. Every entity has
one row of feature :data:`ENTITY` (value ``""``) recording since when it is known, which
is what learning periods are measured against.

Why ``first_seen`` decides novelty: a profile is folded with a batch's records *before* it is
consulted, and an event's value counts as new when its ``first_seen`` falls inside the
event's own window (:func:`is_new`). A value first seen at 10:05 is then new for every event of
that window, whichever batch or scan they arrive in, and known for every later window. So
the answer depends on event times only, not on where batches, files or scans break: a month
backfilled in one scan, in two scans, or read live gives the same findings.

Bounded: rows not seen for ``retention`` before the newest event are dropped, and an
(entity, feature) keeps at most ``max_values`` values, the most recently seen. Counts are
exact within that horizon (retention ages out what is stale, so no decay is needed), and a
profile's size is at most entities × features × ``max_values`` rows whatever the history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import polars as pl

TIME: Final = pl.Datetime("us", "UTC")
PROFILE: Final[pl.Schema] = pl.Schema(
    {
        "entity": pl.String(),
        "feature": pl.String(),
        "value": pl.String(),
        "first_seen": TIME,
        "last_seen": TIME,
        "count": pl.UInt64(),
        "days": pl.UInt32(),
        "peak": pl.Float64(),
        "total": pl.Float64(),
    }
)
KEY: Final = ("entity", "feature", "value")
ENTITY: Final = "entity"  # the feature of the row that records the entity itself (value "")
MAX_VALUE_CHARS: Final = 256  # longer values (user agents) are cut: a key, not a record
MAX_ENTITY_CHARS: Final = 512

# GuardDuty's frequency words for how often a value was seen (the console's "usual behaviour"):
# rare is under once a month, infrequent a few times a month, frequent daily to weekly.
UNSEEN: Final = "UNSEEN"
RARE: Final = "RARE"
INFREQUENT: Final = "INFREQUENT"
FREQUENT: Final = "FREQUENT"


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=PROFILE)


def fold(
    profile: pl.DataFrame,
    frame: pl.DataFrame,
    *,
    entity: pl.Expr,
    features: Mapping[str, pl.Expr],
    retention: timedelta,
    max_values: int,
    time: str = "event_time",
    weight: str | None = None,
) -> pl.DataFrame:
    """``profile`` with ``frame``'s records added: per record, the entity (``entity``, null:
    the record is skipped) and each feature's value (null: that feature is not observed).
    ``weight`` names a column saying how many records a row stands for (a caller that has
    already grouped identical records); without it every row is one record.

    >>> fold(empty(), events, entity=pl.col("principal"), features={"api": pl.col("api")}, ...)
    """
    if frame.is_empty():
        return profile
    columns = {
        "_e": entity.cast(pl.String).str.slice(0, MAX_ENTITY_CHARS),
        "_t": pl.col(time),
        "_w": pl.lit(1, pl.UInt64) if weight is None else pl.col(weight).cast(pl.UInt64),
    }
    names = [ENTITY, *features]
    for i, expr in enumerate(features.values()):
        columns[f"_f{i}"] = expr.cast(pl.String).str.slice(0, MAX_VALUE_CHARS)
    base = frame.select(**columns).filter(pl.col("_e").is_not_null() & pl.col("_t").is_not_null())
    parts = []
    for i, name in enumerate(names):
        value = pl.lit("") if i == 0 else pl.col(f"_f{i - 1}")
        parts.append(
            base.select("_e", "_t", "_w", value.alias("value"))
            .drop_nulls("value")
            .group_by("_e", "value")
            .agg(
                pl.col("_t").min().alias("_first"),
                pl.col("_t").max().alias("_last"),
                pl.col("_w").sum().alias("_n"),
                pl.col("_t").dt.date().unique().alias("_dates"),
            )
            .select(pl.col("_e").alias("entity"), pl.lit(name).alias("feature"), pl.all().exclude("_e"))
        )
    seen = pl.concat(parts, how="vertical").with_columns(
        pl.lit(None, pl.Float64).alias("_peak"), pl.lit(None, pl.Float64).alias("_total")
    )
    out = _merge(profile, seen)
    return prune(out, newest=_newest(base["_t"]), retention=retention, max_values=max_values)


def fold_amounts(
    profile: pl.DataFrame, amounts: pl.DataFrame, *, retention: timedelta, max_values: int
) -> pl.DataFrame:
    """``profile`` with per-window totals added: ``amounts`` has ``entity``, ``feature``,
    ``value``, ``window`` (the window's start) and ``amount``, one row per window. A row keeps
    the ``peak`` and ``total`` of the amounts and, in ``count``, how many windows had any."""
    if amounts.is_empty():
        return profile
    seen = amounts.group_by(*KEY).agg(
        pl.col("window").min().alias("_first"),
        pl.col("window").max().alias("_last"),
        pl.len().cast(pl.UInt64).alias("_n"),
        pl.col("window").dt.date().unique().alias("_dates"),
        pl.col("amount").max().alias("_peak"),
        pl.col("amount").sum().alias("_total"),
    )
    out = _merge(profile, seen)
    return prune(out, newest=_newest(amounts["window"]), retention=retention, max_values=max_values)


def _merge(profile: pl.DataFrame, seen: pl.DataFrame) -> pl.DataFrame:
    """``profile`` merged with ``seen`` (per key: ``_first``, ``_last``, ``_n``, ``_dates``,
    ``_peak``, ``_total``); a day already counted (the stored ``last_seen``'s) is not counted again."""
    merged = profile.join(seen, on=list(KEY), how="full", coalesce=True, nulls_equal=True)
    fresh_days = pl.col("_dates").list.len() - pl.col("_dates").list.contains(
        pl.col("last_seen").dt.date()
    ).fill_null(False).cast(pl.UInt32)
    total = pl.when(pl.col("total").is_null() & pl.col("_total").is_null()).then(None)
    return merged.select(
        *KEY,
        pl.min_horizontal("first_seen", "_first").alias("first_seen"),
        pl.max_horizontal("last_seen", "_last").alias("last_seen"),
        (pl.col("count").fill_null(0) + pl.col("_n").fill_null(0)).alias("count"),
        (pl.col("days").fill_null(0) + fresh_days.fill_null(0)).alias("days"),
        pl.max_horizontal("peak", "_peak").alias("peak"),
        total.otherwise(pl.col("total").fill_null(0.0) + pl.col("_total").fill_null(0.0)).alias("total"),
    ).cast(PROFILE)


def baseline_amounts(amounts: pl.DataFrame, profile: pl.DataFrame) -> pl.DataFrame:
    """``amounts`` (as for :func:`fold_amounts`) with what was known *before* each row's window:
    ``base_peak``, ``base_windows``, ``base_total`` and ``base_since`` (first window), from the
    profile (windows of earlier calls) and earlier windows in ``amounts`` itself. Call it before
    folding the same amounts in; nulls when nothing came before."""
    stored = profile.select(
        *KEY,
        pl.col("peak").alias("_s_peak"),
        pl.col("count").alias("_s_n"),
        pl.col("total").alias("_s_total"),
        pl.col("first_seen").alias("_s_since"),
    )
    key = list(KEY)
    # Running values per series. Most series have one window per call, and ``over`` costs per
    # group, so only series with several windows pay for it (sorted: a series is a run of rows).
    ordered = amounts.sort([*key, "window"]).with_columns(pl.struct(key).rle_id().alias("_g"))
    several = (pl.col("_g") == pl.col("_g").shift(1)) | (pl.col("_g") == pl.col("_g").shift(-1))
    ordered = ordered.with_columns(several.fill_null(False).alias("_several"))
    runs = ordered.filter("_several").with_columns(
        pl.col("amount").cum_max().shift(1).over("_g").alias("_c_peak"),
        pl.col("amount").cum_count().shift(1).over("_g").cast(pl.UInt64).alias("_c_n"),
        pl.col("amount").cum_sum().shift(1).over("_g").alias("_c_total"),
        pl.col("window").min().over("_g").alias("_c_since"),
    )
    alone = ordered.filter(~pl.col("_several")).with_columns(
        pl.lit(None, pl.Float64).alias("_c_peak"),
        pl.lit(None, pl.UInt64).alias("_c_n"),
        pl.lit(None, pl.Float64).alias("_c_total"),
        pl.col("window").alias("_c_since"),
    )
    ordered = pl.concat([alone, runs.cast(alone.schema)], how="vertical").drop("_g", "_several")
    joined = ordered.join(stored, on=key, how="left", nulls_equal=True)
    n = pl.col("_s_n").fill_null(0) + pl.col("_c_n").fill_null(0)
    return joined.select(
        *amounts.columns,
        pl.max_horizontal("_s_peak", "_c_peak").alias("base_peak"),
        pl.when(n > 0).then(n).alias("base_windows"),
        pl.when(n > 0)
        .then(pl.col("_s_total").fill_null(0.0) + pl.col("_c_total").fill_null(0.0))
        .alias("base_total"),
        pl.when(n > 0)
        .then(pl.min_horizontal("_s_since", pl.when(pl.col("_c_n").fill_null(0) > 0).then("_c_since")))
        .alias("base_since"),
    )


def recall(
    frame: pl.DataFrame,
    profile: pl.DataFrame,
    *,
    entity: str,
    feature: str,
    value: str | None,
    prefix: str,
) -> pl.DataFrame:
    """``frame`` with what the profile knows of each record's ``value`` column for ``feature``
    of the ``entity`` column: ``<prefix>_first_seen``, ``<prefix>_last_seen``,
    ``<prefix>_count``, ``<prefix>_days`` (null: never seen). ``value`` None looks up the
    entity row itself (since when the entity is known)."""
    known = profile.filter(pl.col("feature") == feature).select(
        pl.col("entity").alias(entity),
        pl.col("value").alias("_recall_value"),
        pl.col("first_seen").alias(f"{prefix}_first_seen"),
        pl.col("last_seen").alias(f"{prefix}_last_seen"),
        pl.col("count").alias(f"{prefix}_count"),
        pl.col("days").alias(f"{prefix}_days"),
    )
    probe = pl.lit("") if value is None else pl.col(value).cast(pl.String).str.slice(0, MAX_VALUE_CHARS)
    return (
        frame.with_columns(probe.alias("_recall_value"))
        .join(known, on=[entity, "_recall_value"], how="left", nulls_equal=False, maintain_order="left")
        .drop("_recall_value")
    )


def is_new(first_seen: str, window: timedelta, time: str = "event_time") -> pl.Expr:
    """True when ``first_seen`` (a :func:`recall` column) falls in the event's own window, or
    is unknown: the value had not been seen before that window began."""
    start = pl.col(time).dt.truncate(window)
    return pl.col(first_seen).is_null() | (pl.col(first_seen) >= start)


def established(since: str, learning: timedelta, window: timedelta, time: str = "event_time") -> pl.Expr:
    """True when the entity (``since``: a :func:`recall` ``first_seen`` of its :data:`ENTITY`
    row) was known for at least ``learning`` before the event's window began."""
    start = pl.col(time).dt.truncate(window)
    return pl.col(since).is_not_null() & (pl.col(since) <= start - learning)


def frequency(days: str, since: str, time: str = "event_time") -> pl.Expr:
    """GuardDuty's word for how often a value was seen: ``UNSEEN`` (never), ``RARE`` (under
    once a month), ``INFREQUENT`` (a few times a month) or ``FREQUENT`` (daily to weekly), from
    the distinct days it was seen (``days``) over the entity's history (from ``since``)."""
    history_days = ((pl.col(time) - pl.col(since)).dt.total_days() + 1).clip(lower_bound=1)
    per_month = pl.col(days).cast(pl.Float64) * 30.0 / history_days.cast(pl.Float64).clip(lower_bound=30.0)
    return (
        pl.when(pl.col(days).is_null() | (pl.col(days) == 0))
        .then(pl.lit(UNSEEN))
        .when(per_month < 1.5)
        .then(pl.lit(RARE))
        .when(per_month < 4.0)
        .then(pl.lit(INFREQUENT))
        .otherwise(pl.lit(FREQUENT))
    )


def prune(
    profile: pl.DataFrame, *, newest: datetime | None, retention: timedelta, max_values: int
) -> pl.DataFrame:
    """Drop rows not seen for ``retention`` before ``newest``, and keep the ``max_values`` most
    recently seen values per (entity, feature); entity rows are only aged out."""
    out = profile if newest is None else profile.filter(pl.col("last_seen") >= newest - retention)
    if out.height <= max_values:  # no (entity, feature) can hold more values than the profile has rows
        return out
    crowded = (
        out.group_by("entity", "feature")
        .len()
        .filter((pl.col("len") > max_values) & (pl.col("feature") != ENTITY))
    )
    if crowded.is_empty():
        return out
    rank = pl.col("last_seen").rank("ordinal", descending=True).over("entity", "feature")
    keep = crowded.select("entity", "feature", pl.lit(True).alias("_crowded"))
    return (
        out.join(keep, on=["entity", "feature"], how="left")
        .filter(pl.col("_crowded").is_null() | (rank <= max_values))
        .drop("_crowded")
    )


def _newest(times: pl.Series) -> datetime | None:
    value = times.max()
    return value if isinstance(value, datetime) else None


def entities(profile: pl.DataFrame) -> int:
    """How many entities the profile holds."""
    return int(profile.filter(pl.col("feature") == ENTITY).height)
