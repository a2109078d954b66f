"""Behavior:EC2/NetworkPortUnusual: an instance talks to a remote server port it never used.

GuardDuty's trigger: the instance communicates with a remote host on a remote port it has no
prior history of using; High when the port is 389 or 1389 (LDAP, where a Log4Shell JNDI
lookup calls back), with ``additionalInfo.context`` "Possible log4j callback".

**What counts.** The instance's own connections (``keibi.detect.behavior._flows``: accepted,
opened by the instance, to a public host on no trusted list) and only their server port, the
remote port, over TCP or UDP (ICMP has no port). Remote ports in the ephemeral range (>= 32768)
are left out: a "server" there is a passive-FTP data channel or a peer-to-peer client, a fresh
port every time.

**The rule**, per record, against this detector's profile folded with the batch first (so
the answer depends on event times only, ``keibi.detect.behavior.profile``):

- the instance is established: known for ``behavior_learning`` (7 days) and its account's
  fleet for ``behavior_account_learning`` (14 days) before the record's ``behavior_window``;
- the remote port is new for the instance (first seen inside that window);
- and new for the fleet ``account:<id>`` (no instance of the account used it before): a
  port the fleet already talks to is a deployment reaching one more instance, not an
  anomaly; except ports 389/1389, where new for the instance suffices, at High severity.

One finding per (instance, remote port); its evidence is the new port's records of the window
in which it was new. ``additionalInfo`` explains it against the instance's usual ports
(``explanation``, ``unusual``, ``unusualProtocol``, ``context``) and ``anomaly`` gives
GuardDuty's ``Anomaly``: the usual ports by frequency word under ``profiles.instance.remotePort``
and the new one under ``unusual.behavior``.

Not windowed: novelty needs no complete window. Its prefilter passes the instances' own
connections on server ports and each instance's first record of the batch, from which it
learns presence (since when instances and fleets are known, ``keibi.detect.behavior._flows``);
the profile is folded from the first and last record of each (instance, port, window).
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
    PROTOCOL,
    TCP,
    UDP,
    fold_both,
    history_days,
    judged,
    usual,
    with_keys,
)
from keibi.detect.behavior.profile import empty, frequency, is_new, recall
from keibi.enrich.network import EPHEMERAL

NETWORK_PORT_UNUSUAL = FindingType(
    type="Behavior:EC2/NetworkPortUnusual",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="behavior",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with a remote host on an unusual server port {remote_port}.",
    description=(
        "EC2 instance {resource_id} is communicating with {remote_ip} on remote port {remote_port}, "
        "which it has no prior history of using: its behaviour deviates from its established baseline."
    ),
)

ID: Final = "behavior.network_port"
LOG4J_PORTS: Final = (389, 1389)
LOG4J_CONTEXT: Final = "Possible log4j callback"
SERVER_PORT: Final = (
    pl.col("protocol").is_in([TCP, UDP]) & (pl.col("remote_port") > 0) & (pl.col("remote_port") < EPHEMERAL)
).fill_null(False)
PORT_FEATURE: Final = "remote_port"


@detectors.register(
    ID,
    source="vpc_flow",
    emits=(NETWORK_PORT_UNUSUAL,),
    prefilter=(OWN_CONNECTION & SERVER_PORT) | FIRST_RECORD,
    columns=COLUMNS,
)
def network_port(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    settings = ctx.settings
    window = settings.behavior_window
    port = pl.when(OWN_CONNECTION & SERVER_PORT).then(pl.col("remote_port"))
    ported = flows.with_columns(port.alias("_port"), pl.col("event_time").dt.truncate(window).alias("_start"))
    # Novelty and learning need only the first and last record of each (instance, port,
    # window): the profile is folded from those and the rule judged on them, and the records
    # come back only for the findings' evidence. A web server's thousands of HTTPS records per
    # hour then cost one group-by, not four joins.
    edges = with_keys(
        ported.group_by("interface_id", "_port", "_start").agg(
            pl.col("instance_id", "account_id").first(),
            pl.col("event_time").min().alias("_first"),
            pl.col("event_time").max().alias("_last"),
        ),
        window,
        time="_first",
    )
    reduced = pl.concat(
        [
            edges.select("resource", "fleet", "_port", "_start", pl.col(c).alias("event_time"))
            for c in ("_first", "_last")
        ]
    )
    profile = fold_both(
        ctx.profiles.get(ID, empty()),
        reduced,
        settings,
        instance={PORT_FEATURE: pl.col("_port")},
        fleet={PORT_FEATURE: pl.col("_port")},
    )
    ctx.profiles[ID] = profile
    candidates = edges.filter(pl.col("_port").is_not_null()).select(
        "resource",
        "fleet",
        "_start",
        pl.col("_port").alias("remote_port"),
        pl.col("_first").alias("event_time"),
    )
    if candidates.is_empty():
        return no_hits()
    candidates = recall(
        candidates, profile, entity="resource", feature=PORT_FEATURE, value="remote_port", prefix="_own"
    )
    candidates = recall(
        candidates, profile, entity="fleet", feature=PORT_FEATURE, value="remote_port", prefix="_fleet"
    )
    log4j = pl.col("remote_port").is_in(LOG4J_PORTS)
    fleet_new = is_new("_fleet_first_seen", window)
    anomalous = judged(candidates, profile, settings).filter(
        pl.col("_established"), is_new("_own_first_seen", window), fleet_new | log4j
    )
    if anomalous.is_empty():
        return no_hits()
    framed = with_keys(ported.filter(pl.col("_port").is_not_null()), window)
    found = framed.join(
        anomalous.drop("fleet", "event_time"), on=["resource", "_start", "remote_port"], how="inner"
    )
    found = usual(found, profile, PORT_FEATURE).with_columns(fleet_new.alias("_fleet_new"))
    return hits(
        found,
        NETWORK_PORT_UNUSUAL,
        key=("resource", "remote_port"),
        severity=pl.when(log4j).then(float(Severity.HIGH)).otherwise(float(Severity.MEDIUM)),
        resource_role="ACTOR",
        info=_info(log4j),
    )


def _info(log4j: pl.Expr) -> pl.Expr:
    port_text = pl.col("remote_port").cast(pl.String)
    own = pl.format(
        "first connection to remote port {} ({}) by this instance in {} days of history; ports it uses: {}",
        port_text,
        PROTOCOL,
        history_days("_since"),
        pl.col("_usual").fill_null("none"),
    )
    fleet = pl.when(pl.col("_fleet_new")).then(
        pl.format(
            "no instance in account {} connected to remote port {} in its {} days of history",
            pl.col("account_id"),
            port_text,
            history_days("_fleet_since"),
        )
    )
    callback = pl.when(log4j).then(
        pl.format("remote port {} is LDAP, where a Log4Shell (JNDI) lookup calls back", port_text)
    )
    fleet_subtype = (
        pl.when(pl.col("_fleet_new"))
        .then(pl.lit("UNSEEN"))
        .otherwise(frequency("_fleet_days", "_fleet_since", time="_start"))
    )
    unusual_port = pl.concat_list(port_text)
    anomaly = pl.struct(
        pl.struct(pl.struct(pl.col("_usual_profiles").alias("remotePort")).alias("instance")).alias(
            "profiles"
        ),
        pl.struct(
            pl.struct(
                pl.struct(anomaly_object("UNSEEN", unusual_port).alias("remotePort")).alias("instance"),
                pl.struct(anomaly_object(fleet_subtype, unusual_port).alias("remotePort")).alias("account"),
            ).alias("behavior")
        ).alias("unusual"),
    )
    return pl.struct(
        pl.concat_list(own, fleet, callback).list.drop_nulls().alias("explanation"),
        pl.struct(pl.col("remote_port").alias("remotePort"), PROTOCOL.alias("protocol")).alias("unusual"),
        PROTOCOL.alias("unusualProtocol"),
        pl.when(log4j).then(pl.lit(LOG4J_CONTEXT)).alias("context"),
        anomaly.alias("anomaly"),
    ).struct.json_encode()
