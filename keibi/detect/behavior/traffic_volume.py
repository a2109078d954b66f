"""Behavior:EC2/TrafficVolumeUnusual: an instance sends one host far more than it ever did.

GuardDuty's trigger: the instance sends much more traffic to a remote host than its history
says it sends (its model is not published). keibi's rule, windowed on ``behavior_window``
(1 hour, event time):

**What counts.** The instance's own bytes: accepted records whose source is the instance's
side (``srcaddr`` is the local address), to a public host on no trusted list, whichever side
opened the connection (a server's answers are its bytes too), carrying at least
:data:`MIN_RECORD_BYTES` (256 kB): a bulk transfer's records carry megabytes (a flow record
sums a connection over up to ten minutes), while the small records of web responses and API
calls, most of a server's traffic, would have the window hold an hour of nearly every record
for nothing. Per (instance, remote host, window) their bytes are summed; the baseline counts
the same records.

**Baseline** (``profile.fold_amounts``/``baseline_amounts``, this detector's profile): for
each (instance, host) the peak per-window bytes sent to that host in earlier windows, and for
each instance (value ``*``) the peak per-window bytes it sent to any single host. A window is
anomalous when its bytes to the host reach ``traffic_volume_min_bytes`` (100 MB) and
``traffic_volume_factor`` (10) times the larger of the two peaks. The instance-wide peak is
what keeps a busy server quiet when a new client or a new backup target appears: a web
server whose traffic to its clients rises through the day, or a nightly backup to the same
external host, stays within its own peaks. The instance must be established
(``behavior_learning``, 7 days, and its account ``behavior_account_learning``, 14 days, before
the window, learned from each instance's earliest record, ``_flows.FIRST_RECORD``, which the
prefilter passes too); an established instance that never sent anything to public hosts has
peaks of zero, so only the floor applies.

One finding per (instance, remote host), the instance as ``ACTOR``, its evidence the records
of the anomalous window(s). ``additionalInfo``: ``explanation`` ("3.1 GB sent to 203.0.113.9
in one hour vs. a peak of 120 MB per host-hour over 23 days of history"), ``unusual``
(``remoteIp``, ``bytesOut``), ``baseline`` (the two peaks, null when none) and ``anomaly``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.behavior._anomaly import anomaly_object
from keibi.detect.behavior._flows import (
    COLUMNS,
    FIRST_RECORD,
    fold_both,
    history_days,
    judged,
    size_text,
    span_text,
    with_keys,
)
from keibi.detect.behavior.profile import baseline_amounts, empty, fold_amounts, frequency, recall
from keibi.detect.network.attempts import not_trusted

TRAFFIC_VOLUME_UNUSUAL = FindingType(
    type="Behavior:EC2/TrafficVolumeUnusual",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="behavior",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is generating unusually large amounts of network traffic to remote host {remote_ip}.",
    description=(
        "EC2 instance {resource_id} is sending far more traffic to {remote_ip} than its history says "
        "it sends to any host: its behaviour deviates from its established baseline."
    ),
)

ID: Final = "behavior.traffic_volume"
FEATURE: Final = "bytes_out"
ANY_HOST: Final = "*"
MIN_RECORD_BYTES: Final = 256_000
SENT: Final = (
    (pl.col("bytes") >= MIN_RECORD_BYTES)
    & (pl.col("action") == "ACCEPT")
    & (pl.col("srcaddr") == pl.col("local_ip"))
    & ~pl.col("remote_private").fill_null(True)
    & not_trusted()
).fill_null(False)


@detectors.register(
    ID,
    source="vpc_flow",
    emits=(TRAFFIC_VOLUME_UNUSUAL,),
    window=lambda ctx: ctx.settings.behavior_window,
    prefilter=SENT | FIRST_RECORD,
    columns=COLUMNS,
)
def traffic_volume(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    settings = ctx.settings
    window = settings.behavior_window
    framed = with_keys(flows, window)
    before = fold_both(ctx.profiles.get(ID, empty()), framed, settings, instance={}, fleet={})
    rows = framed.filter(SENT)
    if rows.is_empty():
        ctx.profiles[ID] = before
        return no_hits()
    per_host = rows.group_by("resource", "remote_ip", "_start").agg(
        pl.col("bytes").sum().cast(pl.Float64).alias("amount")
    )
    amounts = pl.concat(
        [
            per_host.select(
                pl.col("resource").alias("entity"),
                pl.lit(FEATURE).alias("feature"),
                pl.col("remote_ip").alias("value"),
                pl.col("_start").alias("window"),
                "amount",
            ),
            per_host.group_by("resource", "_start")
            .agg(pl.col("amount").max())
            .select(
                pl.col("resource").alias("entity"),
                pl.lit(FEATURE).alias("feature"),
                pl.lit(ANY_HOST).alias("value"),
                pl.col("_start").alias("window"),
                "amount",
            ),
        ]
    )
    based = baseline_amounts(_could_be_unusual(amounts, settings.traffic_volume_min_bytes), before)
    # The decision reads only the any-host series (a host's own peak never exceeds it), so a
    # host's series is kept only when it is big enough to be worth naming in an explanation: a
    # web server's thousands of clients would otherwise fill the profile with noise.
    worth = settings.traffic_volume_min_bytes / settings.traffic_volume_factor
    profile = fold_amounts(
        before,
        amounts.filter((pl.col("value") == ANY_HOST) | (pl.col("amount") >= worth)),
        retention=settings.behavior_retention,
        max_values=settings.behavior_max_values,
    )
    ctx.profiles[ID] = profile
    host = based.filter(pl.col("value") != ANY_HOST).select(
        pl.col("entity").alias("resource"),
        pl.col("value").alias("remote_ip"),
        pl.col("window").alias("_start"),
        pl.col("amount").alias("_amount"),
        pl.col("base_peak").alias("_host_peak"),
    )
    any_host = based.filter(pl.col("value") == ANY_HOST).select(
        pl.col("entity").alias("resource"),
        pl.col("window").alias("_start"),
        pl.col("base_peak").alias("_any_peak"),
    )
    reference = pl.max_horizontal("_host_peak", "_any_peak").fill_null(0.0)
    unusual = host.join(any_host, on=["resource", "_start"], how="left").filter(
        pl.col("_amount") >= settings.traffic_volume_min_bytes,
        pl.col("_amount") >= settings.traffic_volume_factor * reference,
    )
    if unusual.is_empty():
        return no_hits()
    found = rows.join(unusual, on=["resource", "remote_ip", "_start"], how="inner", maintain_order="left")
    found = judged(found, profile, settings).filter(pl.col("_established"))
    if found.is_empty():
        return no_hits()
    found = recall(found, profile, entity="resource", feature=FEATURE, value="remote_ip", prefix="_host")
    return hits(
        found,
        TRAFFIC_VOLUME_UNUSUAL,
        key=("resource", "remote_ip"),
        resource_role="ACTOR",
        info=_info(window),
    )


def _info(window: timedelta) -> pl.Expr:
    span = span_text(window)
    per = "per host-hour" if window == timedelta(hours=1) else f"per host and {span}"
    sent = pl.format("{} sent to {} in {}", size_text(pl.col("_amount")), pl.col("remote_ip"), pl.lit(span))
    days = history_days("_since")
    explanation = (
        pl.when(pl.col("_host_peak").is_not_null())
        .then(
            pl.format(
                "{} vs. a peak of {} to this host and {} to any single host per {} over {} days of history",
                sent,
                size_text(pl.col("_host_peak")),
                size_text(pl.col("_any_peak")),
                pl.lit(span.removeprefix("one ")),
                days,
            )
        )
        .when(pl.col("_any_peak").is_not_null())
        .then(
            pl.format(
                "{} vs. a peak of {} {} over {} days of history; it never sent to this host before",
                sent,
                size_text(pl.col("_any_peak")),
                pl.lit(per),
                days,
            )
        )
        .otherwise(
            pl.format(
                "{} by an instance that sent nothing to public hosts in its {} days of history", sent, days
            )
        )
    )
    known = pl.col("_host_peak").is_not_null()
    peaks = pl.concat_list(
        pl.format("peak {} {} to this host", size_text(pl.col("_host_peak")), pl.lit(span)),
        pl.format("peak {} {} to any single host", size_text(pl.col("_any_peak")), pl.lit(span)),
    ).list.drop_nulls()
    profiles = pl.concat_list(
        anomaly_object(
            pl.when(known).then(frequency("_host_days", "_since", time="_start")).otherwise(pl.lit("UNSEEN")),
            peaks,
        )
    )
    anomaly = pl.struct(
        pl.struct(pl.struct(profiles.alias("bytesOut")).alias("instance")).alias("profiles"),
        pl.struct(
            pl.struct(
                pl.struct(anomaly_object("UNSEEN", pl.concat_list(sent)).alias("bytesOut")).alias("instance")
            ).alias("behavior")
        ).alias("unusual"),
    )
    return pl.struct(
        pl.concat_list(explanation).alias("explanation"),
        pl.struct(
            pl.col("remote_ip").alias("remoteIp"), pl.col("_amount").cast(pl.Int64).alias("bytesOut")
        ).alias("unusual"),
        pl.struct(
            pl.col("_host_peak").cast(pl.Int64).alias("hostPeakBytes"),
            pl.col("_any_peak").cast(pl.Int64).alias("anyHostPeakBytes"),
        ).alias("baseline"),
        anomaly.alias("anomaly"),
    ).struct.json_encode()


def _could_be_unusual(amounts: pl.DataFrame, floor: int) -> pl.DataFrame:
    """The ``amounts`` a baseline is needed for: every window of the (instance, host) pairs with
    a window at or above ``floor``, and their instances' any-host series. The baseline of a
    window needs only its own series' earlier windows, and most pairs never reach the floor,
    so this keeps ``baseline_amounts`` (a per-series running peak) to a few series."""
    heavy = (
        amounts.filter(pl.col("value") != ANY_HOST, pl.col("amount") >= floor)
        .select("entity", "value")
        .unique()
    )
    pairs = amounts.join(heavy, on=["entity", "value"], how="semi")
    instances = amounts.filter(pl.col("value") == ANY_HOST).join(
        heavy.select("entity"), on="entity", how="semi"
    )
    return pl.concat([pairs, instances])
