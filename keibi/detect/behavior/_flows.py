"""What the flow behaviour detectors share: whose behaviour a record is, who is established.

**The instance's own connections.** A flow record shows the instance's behaviour when the
instance opened the connection (``direction`` OUTBOUND, decided by ``keibi.enrich`` from the
ports, so a server's replies never count), the connection was accepted (a blocked attempt
never reached anyone), and the remote side is a public address on no trusted list (the VPC
resolver, peers in the VPC and on-premises hosts are private; trusted addresses raise no flow
finding in GuardDuty). :data:`OWN_CONNECTION` is that filter.

**The entities.** The instance (:func:`~keibi.detect.network.attempts.resource`: its id,
else the ENI for flow logs without ``instance-id``) and its account's fleet, entity
``account:<id>``, for "new for the whole fleet" checks: a port or resolver another instance
of the account already uses is not an anomaly when one more instance starts using it.

**Presence.** Learning periods run from when an entity was first seen in any flow record, not
only in the records a detector judges: an instance that never sent mail is established after
a week of web traffic. A windowed detector keeps only the records its prefilter passes (port
25, DNS ports, ...), so its prefilter also passes :data:`FIRST_RECORD`, each instance's
earliest record of the batch: a handful of rows per batch, and their minimum over batches is
exactly when the instance (and, through its instances, the fleet) was first seen. Every
detector folds its own ``ENTITY`` rows from them (:func:`fold_both`), so none depends on
another's profile or on the order detectors run in.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from keibi.detect.behavior._anomaly import ANOMALY_OBJECT, anomaly_object
from keibi.detect.behavior.profile import ENTITY, established, fold, frequency, recall
from keibi.detect.network.attempts import not_trusted, resource
from keibi.detect.settings import DetectSettings

TCP: Final = 6
UDP: Final = 17
USUAL_LIMIT: Final = 10  # known values an explanation lists, the most used first

OWN_CONNECTION: Final = (
    (pl.col("action") == "ACCEPT")
    & (pl.col("direction") == "OUTBOUND")
    & ~pl.col("remote_private").fill_null(True)
    & not_trusted()
).fill_null(False)
"""An accepted connection the instance opened to a public, non-trusted host."""

FIRST_RECORD: Final = pl.col("first_of_interface")
"""Each ENI's earliest record in the batch (``keibi.enrich``; an instance's earliest record is
its ENIs' earliest): what a windowed detector's prefilter adds to its own records to learn
presence (see the module docstring)."""

PROTOCOL: Final = (
    pl.col("protocol")
    .replace_strict({6: "TCP", 17: "UDP", 1: "ICMP", 58: "ICMPv6"}, default=None, return_dtype=pl.String)
    .fill_null(pl.col("protocol").cast(pl.String))
)
"""The protocol's name as GuardDuty writes it (``TCP``), else its number."""

COLUMNS: Final = ("remote_private", "remote_trusted", "bytes")
"""What the windowed flow behaviour detectors read besides the columns findings are built from."""


_SUBTYPE_ORDER: Final = {"FREQUENT": 0, "INFREQUENT": 1, "RARE": 2, "UNSEEN": 3}


def with_keys(flows: pl.DataFrame, window: timedelta, *, time: str = "event_time") -> pl.DataFrame:
    """``flows`` with ``resource`` (instance, else ENI), ``fleet`` (``account:<id>``) and
    ``_start`` (the start of the ``time`` column's behaviour window)."""
    return flows.with_columns(
        resource(),
        pl.concat_str(pl.lit("account:"), pl.col("account_id").fill_null("")).alias("fleet"),
        pl.col(time).dt.truncate(window).alias("_start"),
    )


def fold_both(
    profile: pl.DataFrame,
    flows: pl.DataFrame,
    settings: DetectSettings,
    *,
    instance: dict[str, pl.Expr],
    fleet: dict[str, pl.Expr],
) -> pl.DataFrame:
    """``profile`` with ``flows`` (having :func:`with_keys`) folded per instance (``instance``
    features) and per fleet (``fleet`` features); both also get their ``ENTITY`` rows."""
    retention, max_values = settings.behavior_retention, settings.behavior_max_values
    out = fold(
        profile,
        flows,
        entity=pl.col("resource"),
        features=instance,
        retention=retention,
        max_values=max_values,
    )
    return fold(
        out, flows, entity=pl.col("fleet"), features=fleet, retention=retention, max_values=max_values
    )


def judged(rows: pl.DataFrame, known: pl.DataFrame, settings: DetectSettings) -> pl.DataFrame:
    """``rows`` (having :func:`with_keys`) with ``_since`` and ``_fleet_since`` (when the
    instance and its fleet were first seen, from the ``ENTITY`` rows of profile ``known``) and
    ``_established``: the instance was known for ``behavior_learning`` and its fleet for
    ``behavior_account_learning`` before the record's window began."""
    entities = known.filter(pl.col("feature") == ENTITY)
    out = recall(rows, entities, entity="resource", feature=ENTITY, value=None, prefix="_pi")
    out = recall(out, entities, entity="fleet", feature=ENTITY, value=None, prefix="_pf")
    window = settings.behavior_window
    return out.select(
        pl.exclude("^_p[if]_.*$"),
        pl.col("_pi_first_seen").alias("_since"),
        pl.col("_pf_first_seen").alias("_fleet_since"),
        (
            established("_pi_first_seen", settings.behavior_learning, window)
            & established("_pf_first_seen", settings.behavior_account_learning, window)
        ).alias("_established"),
    )


def history_days(since: str) -> pl.Expr:
    """Whole days from ``since`` to the start of the record's window."""
    return (pl.col("_start") - pl.col(since)).dt.total_days()


def usual(found: pl.DataFrame, profile: pl.DataFrame, feature: str) -> pl.DataFrame:
    """``found`` (with ``resource``, ``_start``, ``_since``) with what its instance usually
    does for ``feature``: the values its profile knew before the record's window, the most
    seen first, as ``_usual`` (text, null when none) and ``_usual_profiles`` (``AnomalyObject``
    list, one per GuardDuty frequency word, ``[]`` when none). Counts and days are the
    profile's as it stands when the finding is made."""
    keys = found.select("resource", "_start", "_since").unique()
    known = profile.filter(pl.col("feature") == feature).select(
        pl.col("entity").alias("resource"),
        pl.col("value").alias("_value"),
        pl.col("first_seen").alias("_first"),
        pl.col("count").alias("_count"),
        pl.col("days").alias("_days"),
    )
    before = (
        keys.join(known, on="resource", how="inner")
        .filter(pl.col("_first") < pl.col("_start"))
        .with_columns(frequency("_days", "_since", time="_start").alias("_subtype"))
        .sort(["_count", "_value"], descending=[True, False])
    )
    listed = before.group_by("resource", "_start").agg(
        pl.col("_value").head(USUAL_LIMIT).str.join(", ").alias("_usual")
    )
    groups = (
        before.group_by("resource", "_start", "_subtype")
        .agg(pl.col("_value").head(USUAL_LIMIT).alias("_text"))
        .sort(pl.col("_subtype").replace_strict(_SUBTYPE_ORDER, default=9, return_dtype=pl.Int8))
        .group_by("resource", "_start", maintain_order=True)
        .agg(anomaly_object(pl.col("_subtype"), pl.col("_text")).alias("_usual_profiles"))
    )
    empty_list = pl.lit([], dtype=pl.List(ANOMALY_OBJECT))
    return (
        found.join(listed, on=["resource", "_start"], how="left", maintain_order="left")
        .join(groups, on=["resource", "_start"], how="left", maintain_order="left")
        .with_columns(pl.col("_usual_profiles").cast(pl.List(ANOMALY_OBJECT)).fill_null(empty_list))
    )


def size_text(amount: pl.Expr) -> pl.Expr:
    """A byte count as people read it: ``3.1 GB``, ``120 MB`` (decimal units)."""

    def scaled(unit: float, name: str) -> pl.Expr:
        number = (amount.cast(pl.Float64) / unit).round(1).cast(pl.String).str.strip_suffix(".0")
        return pl.format("{} {}", number, pl.lit(name))

    return (
        pl.when(amount >= 1e12)
        .then(scaled(1e12, "TB"))
        .when(amount >= 1e9)
        .then(scaled(1e9, "GB"))
        .when(amount >= 1e6)
        .then(scaled(1e6, "MB"))
        .when(amount >= 1e3)
        .then(scaled(1e3, "kB"))
        .otherwise(pl.format("{} B", amount.cast(pl.Int64)))
    )


def span_text(window: timedelta) -> str:
    """``one hour``, ``30 minutes``: the behaviour window in words."""
    minutes = int(window.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "one hour" if hours == 1 else f"{hours} hours"
    return "one minute" if minutes == 1 else f"{minutes} minutes"
