"""Recon:EC2/Portscan: the instance tries many ports on one remote host (outbound vertical scan).

GuardDuty's trigger: flow logs show the instance attempting connections to many different
ports of a remote host within a short interval. keibi counts, per instance (or ENI when the
flow log has no ``instance-id``), remote host and event-time window of
``settings.portscan_window`` (10 minutes), the distinct remote TCP ports of the instance's
*failed* attempts (``keibi.detect.network.attempts``): handshake-only request records the
remote answered with at most one packet (a RST from a closed port, a SYN-ACK the scanner
never completed, nothing from a filtered one), accepted or rejected. At
``settings.portscan_min_ports`` (25) or more it is a scan. The remote host may be private:
an internal scan is as much a finding as an outbound one.

Benign traffic stays below: a monitoring host polls many hosts on one port each; a client
talking to a host's many services (passive FTP data ports, Kubernetes NodePorts) sends
data or completes the connection, and so does a health check of many ports, however often
it repeats; a server's replies to clients are INBOUND connections (``keibi.enrich.network``).
UDP is left out: media relays and game servers legitimately use port ranges.

One finding per instance and scanned host (GuardDuty's "instance, type and remote party");
its evidence is the failed attempts.

Known limit: in a v2 flow log (no ``flow-direction``) where scanner and target are both
private and both interfaces are logged, the target's records cannot say which side is the
interface's, so the target's ENI looks like a scanner too. v5 logs with ``flow-direction``
do not have this ambiguity.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits
from keibi.detect.network.attempts import SMALL_TCP, failed_outbound, not_trusted, resource

PORTSCAN = FindingType(
    type="Recon:EC2/Portscan",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="Outbound port scan from EC2 instance {resource_id}.",
    description=(
        "EC2 instance {resource_id} is performing outbound port scans against remote host {remote_ip}: "
        "{distinctPorts} ports tried without an answer."
    ),
)


@detectors.register(
    "network.portscan",
    source="vpc_flow",
    emits=(PORTSCAN,),
    window=lambda ctx: ctx.settings.portscan_window,
    prefilter=SMALL_TCP,
)
def portscan(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    tries = (
        failed_outbound(flows.filter(SMALL_TCP))
        .filter(not_trusted())
        .with_columns(
            resource(), pl.col("event_time").dt.truncate(ctx.settings.portscan_window).alias("bucket")
        )
    )
    group = ["account_id", "region", "resource", "remote_ip", "bucket"]
    ports = pl.col("remote_port").n_unique().over(group)
    scans = tries.with_columns(ports.alias("ports")).filter(
        pl.col("ports") >= ctx.settings.portscan_min_ports
    )
    info = pl.struct(
        pl.col("remote_ip").alias("scannedHost"), pl.col("ports").alias("distinctPorts")
    ).struct.json_encode()
    return hits(scans, PORTSCAN, key=("resource", "remote_ip"), resource_role="ACTOR", info=info)
