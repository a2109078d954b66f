"""UnauthorizedAccess:EC2/SSHBruteForce: many SSH connections between the instance and one host.

GuardDuty's trigger: flow logs show many connection attempts to TCP port 22 between the
instance and a remote host, as password guessing makes. Every guess is a new TCP connection
from a new client port, so keibi counts distinct client ports of accepted TCP flows to port
22, per instance (or ENI), direction and remote public host, inside an event-time window of
``settings.ssh_window`` (10 minutes); ``settings.ssh_min_attempts`` (20) or more is brute
force. Only the request records (destination port 22) are evidence, so a reply record does
not count twice. Rejected flows do not count (a refused SYN guesses nothing); neither do
private remote hosts, so bastions, configuration management and admins inside the VPC stay
quiet, and an admin's handful of sessions or many clients with a connection or two each
stay far below the threshold (the count is per remote host).

The instance receiving the guesses is the ``TARGET`` (Low, 2.0); the instance making them
is the ``ACTOR`` (High, 8.0): it is probably compromised. One finding per instance and role.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

SSH_BRUTE_FORCE = FindingType(
    type="UnauthorizedAccess:EC2/SSHBruteForce",
    severity=Severity.LOW,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="SSH brute force attacks between {resource_id} and {remote_ip}.",
    description=(
        "{remote_ip} and EC2 instance {resource_id} are involved in SSH brute force attacks: "
        "many connection attempts to TCP port 22 were made between them."
    ),
)

TCP, SSH = 6, 22
CANDIDATE = (pl.col("protocol") == TCP) & (pl.col("dstport") == SSH) & (pl.col("action") == "ACCEPT")


@detectors.register(
    "network.ssh_brute_force",
    source="vpc_flow",
    emits=(SSH_BRUTE_FORCE,),
    window=lambda ctx: ctx.settings.ssh_window,
    prefilter=CANDIDATE,
)
def ssh_brute_force(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    target = (pl.col("local_port") == SSH) & (pl.col("dstaddr") == pl.col("local_ip"))
    actor = (pl.col("remote_port") == SSH) & (pl.col("dstaddr") == pl.col("remote_ip"))
    tries = flows.filter(CANDIDATE, ~pl.col("remote_private").fill_null(True), target | actor).with_columns(
        pl.coalesce("instance_id", "interface_id").alias("resource"),
        pl.when(target).then(pl.lit("TARGET")).otherwise(pl.lit("ACTOR")).alias("role"),
        pl.col("event_time").dt.truncate(ctx.settings.ssh_window).alias("bucket"),
        pl.col("srcport").alias("client_port"),
    )
    group = ["account_id", "region", "resource", "role", "remote_ip", "bucket"]
    attempts = pl.col("client_port").n_unique().over(group)
    brute = tries.with_columns(attempts.alias("attempts")).filter(
        pl.col("attempts") >= ctx.settings.ssh_min_attempts
    )
    severity = pl.when(pl.col("role") == "ACTOR").then(float(Severity.HIGH)).otherwise(float(Severity.LOW))
    info = pl.struct(pl.col("attempts").alias("connectionAttempts")).struct.json_encode()
    return hits(
        brute, SSH_BRUTE_FORCE, key=("resource",), severity=severity, resource_role=pl.col("role"), info=info
    )
