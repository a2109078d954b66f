"""Impact:EC2/PortSweep: the instance tries one port on many public hosts (outbound horizontal sweep).

GuardDuty's trigger: flow logs show the instance probing the same port across a large number
of publicly routable IP addresses. This is what worms and mass scanners do from a
compromised host (Redis 6379, SMB 445, SSH 22, Docker 2375 across the internet): most
addresses have nothing there, so most attempts go unanswered. keibi counts, per instance (or
ENI), remote TCP port and event-time window of ``settings.port_sweep_window`` (10 minutes),
the distinct public remote hosts of the instance's *failed* attempts
(``keibi.detect.network.attempts``): handshake-only request records the remote answered with
at most one packet, accepted or rejected by the instance's own security group. At
``settings.port_sweep_min_hosts`` (100) or more it is a sweep.

Benign traffic stays quiet because it talks: an app calling hundreds of outside APIs on 443,
a mail relay delivering to hundreds of MX hosts on 25, a crawler, a backup streaming to S3
all send data in their first record; an uptime monitor checking many endpoints on one port
completes each connection (the endpoint answers with SYN-ACK and FIN), however often it
checks. Private hosts never count (a monitoring host polls the fleet on one port), nor do
trusted addresses. UDP is left out: a recursive DNS resolver talks to thousands of
authoritative servers on 53 with one-packet exchanges.

One finding per instance and swept port (the sweep's remote party is the port across the
internet, not one host); ``additionalInfo`` says how many hosts were tried in the window.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits
from keibi.detect.network.attempts import SMALL_TCP, failed_outbound, not_trusted, resource

PORT_SWEEP = FindingType(
    type="Impact:EC2/PortSweep",
    severity=Severity.HIGH,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is performing a port sweep on port {sweptPort}.",
    description=(
        "EC2 instance {resource_id} is probing port {sweptPort} on {distinctHosts} publicly routable "
        "IP addresses without an answer, most recently {remote_ip}."
    ),
)

CANDIDATE = SMALL_TCP & ~pl.col("remote_private").fill_null(True)


@detectors.register(
    "network.port_sweep",
    source="vpc_flow",
    emits=(PORT_SWEEP,),
    window=lambda ctx: ctx.settings.port_sweep_window,
    prefilter=CANDIDATE,
)
def port_sweep(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    tries = (
        failed_outbound(flows.filter(CANDIDATE))
        .filter(not_trusted())
        .with_columns(
            resource(), pl.col("event_time").dt.truncate(ctx.settings.port_sweep_window).alias("bucket")
        )
    )
    group = ["account_id", "region", "resource", "remote_port", "bucket"]
    hosts = pl.col("remote_ip").n_unique().over(group)
    sweeps = tries.with_columns(hosts.alias("hosts")).filter(
        pl.col("hosts") >= ctx.settings.port_sweep_min_hosts
    )
    info = pl.struct(
        pl.col("remote_port").alias("sweptPort"), pl.col("hosts").alias("distinctHosts")
    ).struct.json_encode()
    return hits(sweeps, PORT_SWEEP, key=("resource", "remote_port"), resource_role="ACTOR", info=info)
