"""Backdoor:EC2/Spambot: an instance with no history of SMTP starts mailing many hosts.

GuardDuty's trigger: the instance talks to remote hosts on port 25 although its history shows
no port-25 communication; spam bots mail many servers. keibi counts, per instance (or ENI) and
``behavior_window`` (1 hour, event time; a windowed detector, so a window's count never
depends on where batches break), the distinct public hosts whose port 25 it opened accepted
TCP connections to (``_flows.OWN_CONNECTION``: trusted addresses excluded), and raises when:

- at least ``spambot_min_hosts`` (5) distinct hosts in the window: one mail to one smarthost
  (a cron job's report) is not spam;
- the instance is established (``behavior_learning``, 7 days, and its account
  ``behavior_account_learning``, 14 days, before the window; learned from each instance's
  earliest record, ``_flows.FIRST_RECORD``, as this detector keeps only port-25 records);
- and it has no established port-25 history: its first port-25 connection is younger than
  ``behavior_learning`` before the window. Strict "port 25 first seen in this window" would
  let a bot that sends a few test mails in one quiet hour learn port 25 into its own baseline
  and blast the next hour unseen; a real mail relay's port-25 history is weeks old and keeps
  it quiet.

One finding per instance, the instance as ``ACTOR``; its evidence is the port-25 records of
every window that met the rule. ``additionalInfo``: ``explanation``, ``unusual``
(``remotePort`` 25, ``remoteHosts``) and ``anomaly`` (port 25 as UNSEEN, or by its frequency
word when its history is young).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.behavior._anomaly import anomaly_object
from keibi.detect.behavior._flows import (
    COLUMNS,
    FIRST_RECORD,
    OWN_CONNECTION,
    TCP,
    fold_both,
    history_days,
    judged,
    span_text,
    with_keys,
)
from keibi.detect.behavior.profile import empty, frequency, recall

SPAMBOT = FindingType(
    type="Backdoor:EC2/Spambot",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="behavior",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is exhibiting unusual behavior by communicating with remote hosts on port 25.",
    description=(
        "EC2 instance {resource_id} is communicating with remote hosts on port 25 (SMTP), including "
        "{remote_ip}, although it has no prior history of port-25 communication: it may be "
        "compromised and sending spam."
    ),
)

ID: Final = "behavior.spambot"
SMTP: Final = 25
SMTP_FEATURE: Final = "remote_port"
CANDIDATE: Final = (OWN_CONNECTION & (pl.col("remote_port") == SMTP) & (pl.col("protocol") == TCP)).fill_null(
    False
)


@detectors.register(
    ID,
    source="vpc_flow",
    emits=(SPAMBOT,),
    window=lambda ctx: ctx.settings.behavior_window,
    prefilter=CANDIDATE | FIRST_RECORD,
    columns=COLUMNS,
)
def spambot(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    settings = ctx.settings
    window = settings.behavior_window
    rows = with_keys(flows, window).with_columns(pl.lit(str(SMTP)).alias("_smtp"))
    profile = fold_both(
        ctx.profiles.get(ID, empty()),
        rows,
        settings,
        instance={SMTP_FEATURE: pl.when(CANDIDATE).then(pl.col("_smtp"))},
        fleet={},
    )
    ctx.profiles[ID] = profile
    busy = (
        rows.filter(CANDIDATE)
        .with_columns(pl.col("remote_ip").n_unique().over("resource", "_start").alias("_hosts"))
        .filter(pl.col("_hosts") >= settings.spambot_min_hosts)
    )
    if busy.is_empty():
        return no_hits()
    busy = recall(busy, profile, entity="resource", feature=SMTP_FEATURE, value="_smtp", prefix="_port")
    young = pl.col("_port_first_seen") > pl.col("_start") - settings.behavior_learning
    found = judged(busy, profile, settings).filter(pl.col("_established"), young)
    if found.is_empty():
        return no_hits()
    return hits(found, SPAMBOT, key=("resource",), resource_role="ACTOR", info=_info(span_text(window)))


def _ago(gap: pl.Expr) -> pl.Expr:
    """A duration as people say it: ``40 minutes``, ``5 hours``, ``3 days``."""
    minutes, hours = gap.dt.total_minutes(), gap.dt.total_hours()
    return (
        pl.when(minutes < 120)
        .then(pl.format("{} minutes", minutes))
        .when(hours < 48)
        .then(pl.format("{} hours", hours))
        .otherwise(pl.format("{} days", gap.dt.total_days()))
    )


def _info(span: str) -> pl.Expr:
    new = pl.col("_port_first_seen") >= pl.col("_start")
    history = (
        pl.when(new)
        .then(pl.format("no port-25 traffic in its {} days of history", history_days("_since")))
        .otherwise(
            pl.format(
                "its first port-25 traffic was only {} before, within the learning period",
                _ago(pl.col("_start") - pl.col("_port_first_seen")),
            )
        )
    )
    explanation = pl.format(
        "connected to port 25 (SMTP) of {} distinct public hosts in {}; {}",
        pl.col("_hosts"),
        pl.lit(span),
        history,
    )
    subtype = pl.when(new).then(pl.lit("UNSEEN")).otherwise(frequency("_port_days", "_since", time="_start"))
    port = pl.concat_list(pl.lit(str(SMTP)))
    anomaly = pl.struct(
        pl.struct(
            pl.struct(pl.concat_list(anomaly_object(subtype, port)).alias("remotePort")).alias("instance")
        ).alias("profiles"),
        pl.struct(
            pl.struct(pl.struct(anomaly_object(subtype, port).alias("remotePort")).alias("instance")).alias(
                "behavior"
            )
        ).alias("unusual"),
    )
    return pl.struct(
        pl.concat_list(explanation).alias("explanation"),
        pl.struct(pl.lit(SMTP).alias("remotePort"), pl.col("_hosts").alias("remoteHosts")).alias("unusual"),
        anomaly.alias("anomaly"),
    ).struct.json_encode()
