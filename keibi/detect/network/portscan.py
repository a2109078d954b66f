"""Recon:EC2/Portscan: the instance tries many ports on one remote host (outbound vertical scan).

GuardDuty's trigger: flow logs show the instance attempting connections to many different
ports of a remote host within a short interval. keibi counts, per instance (or ENI when the
flow log has no ``instance-id``), remote host and event-time window of
``settings.portscan_window`` (10 minutes), the distinct remote TCP ports of the connections
the instance opened (``direction`` OUTBOUND, accepted or rejected: closed ports are what a
scan mostly finds). At ``settings.portscan_min_ports`` (25) or more it is a scan. Benign
patterns stay below: a monitoring host polls many hosts on one port each, a client talks to
a few service ports, and a server's replies to clients are INBOUND connections (see
``keibi.enrich.network``). UDP is left out: media relays and game servers legitimately use
port ranges. One finding per instance; its evidence is every flow of the scans.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

PORTSCAN = FindingType(
    type="Recon:EC2/Portscan",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="Outbound port scan from EC2 instance {resource_id}.",
    description="EC2 instance {resource_id} is performing outbound port scans against remote host {remote_ip}.",
)

TCP = 6
CANDIDATE = (
    (pl.col("direction") == "OUTBOUND") & (pl.col("protocol") == TCP) & pl.col("remote_port").is_not_null()
)


@detectors.register(
    "network.portscan",
    source="vpc_flow",
    emits=(PORTSCAN,),
    window=lambda ctx: ctx.settings.portscan_window,
    prefilter=CANDIDATE,
)
def portscan(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    window = ctx.settings.portscan_window
    tries = flows.filter(CANDIDATE).with_columns(
        pl.coalesce("instance_id", "interface_id").alias("resource"),
        pl.col("event_time").dt.truncate(window).alias("bucket"),
    )
    group = ["account_id", "region", "resource", "remote_ip", "bucket"]
    ports = pl.col("remote_port").n_unique().over(group)
    scans = tries.with_columns(ports.alias("ports")).filter(
        pl.col("ports") >= ctx.settings.portscan_min_ports
    )
    info = pl.struct(
        pl.col("remote_ip").alias("scannedHost"), pl.col("ports").alias("distinctPorts")
    ).struct.json_encode()
    return hits(scans, PORTSCAN, key=("resource",), resource_role="ACTOR", info=info)
