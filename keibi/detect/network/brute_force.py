"""SSH, RDP and WinRM brute force: many logins tried between the instance and one public host.

GuardDuty's triggers: flow logs show many connection attempts between the instance and a
remote host on TCP 22 (``UnauthorizedAccess:EC2/SSHBruteForce``), TCP 3389
(``UnauthorizedAccess:EC2/RDPBruteForce``) or the WinRM ports TCP 5985/5986
(``Impact:EC2/WinRMBruteForce``), as password guessing makes. One family, one counting rule:

- Every guess is a new TCP connection from a new client port (hydra, ncrack, crowbar and the
  WinRM sprayers all open one per attempt; RDP's NLA and WinRM's NTLM handshakes need a fresh
  connection for a fresh password), and a flow record is per 5-tuple, so keibi counts the
  distinct client ports of the *request* records (destination port the service's), per
  instance (or ENI when the log has no ``instance-id``), role, remote host and service,
  inside an event-time window of ``settings.brute_force_window`` (10 minutes). A reply
  record never counts twice, and a long session reported window after window is one
  connection.
- At ``settings.ssh_min_attempts`` (20), ``rdp_min_attempts`` (20) or ``winrm_min_attempts``
  (30) connections it is brute force. WinRM's bar is higher because it is HTTP: PowerShell
  remoting and Ansible open a new connection for a batch of commands more readily than an
  SSH or RDP client reconnects.
- Only accepted flows count: a SYN the security group refuses guesses nothing, so the
  internet's background of scanners knocking on 22/3389 stays quiet. Only public remote
  hosts count: bastions, configuration management (Ansible over WinRM from a runner in the
  VPC) and admins inside the network stay quiet. Remote hosts on a trusted list never count
  (GuardDuty raises no flow finding for them), so an authorised penetration test can be
  allowed. An admin's handful of sessions (RDP's extra NLA and UDP side channels included:
  UDP is not counted) or many clients with a connection or two each stay far below the bar,
  because the count is per remote host; a slow guesser spreading its tries over many
  windows, or a botnet spreading them over many hosts, stays below it too.

The instance receiving the guesses is the ``TARGET`` (Low, 2.0), the instance making them
the ``ACTOR`` (High, 8.0): it is probably compromised. One finding per instance, role and
remote host (the title names who attacks whom, as GuardDuty's does); ``additionalInfo`` has
``connectionAttempts`` (in the window of the latest evidence), ``windowMinutes``, ``attacker``
and ``victim``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits

SSH_BRUTE_FORCE = FindingType(
    type="UnauthorizedAccess:EC2/SSHBruteForce",
    severity=Severity.LOW,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="{attacker} is performing SSH brute force attacks against {victim}.",
    description=(
        "{attacker} made {connectionAttempts} SSH connections (TCP 22) to {victim} within "
        "{windowMinutes} minutes, as password guessing does. EC2 instance {resource_id} is the "
        "{resource_role} of these attacks."
    ),
)
RDP_BRUTE_FORCE = FindingType(
    type="UnauthorizedAccess:EC2/RDPBruteForce",
    severity=Severity.LOW,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="{attacker} is performing RDP brute force attacks against {victim}.",
    description=(
        "{attacker} made {connectionAttempts} RDP connections (TCP 3389) to {victim} within "
        "{windowMinutes} minutes, as password guessing does. EC2 instance {resource_id} is the "
        "{resource_role} of these attacks."
    ),
)
WINRM_BRUTE_FORCE = FindingType(
    type="Impact:EC2/WinRMBruteForce",
    severity=Severity.LOW,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="signature",
    action_type="NETWORK_CONNECTION",
    title="{attacker} is performing Windows Remote Management brute force attacks against {victim}.",
    description=(
        "{attacker} made {connectionAttempts} WinRM connections (TCP {port}) to {victim} within "
        "{windowMinutes} minutes, as password guessing does. EC2 instance {resource_id} is the "
        "{resource_role} of these attacks."
    ),
)

TCP: Final = 6
SERVICES: Final[dict[int, str]] = {22: "SSH", 3389: "RDP", 5985: "WinRM", 5986: "WinRM"}
TYPES: Final[dict[str, FindingType]] = {
    "SSH": SSH_BRUTE_FORCE,
    "RDP": RDP_BRUTE_FORCE,
    "WinRM": WINRM_BRUTE_FORCE,
}

CANDIDATE = (
    (pl.col("protocol") == TCP)
    & pl.col("dstport").is_in(list(SERVICES))
    & (pl.col("action") == "ACCEPT")
    & ~pl.col("remote_private").fill_null(True)
    & ~pl.col("remote_trusted").fill_null(False)
)


@detectors.register(
    "network.brute_force",
    source="vpc_flow",
    emits=tuple(TYPES.values()),
    window=lambda ctx: ctx.settings.brute_force_window,
    prefilter=CANDIDATE,
)
def brute_force(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    # A request record goes to the service port: the instance's (it is attacked) or the remote's.
    target = (pl.col("dstaddr") == pl.col("local_ip")) & (pl.col("local_port") == pl.col("dstport"))
    actor = (pl.col("dstaddr") == pl.col("remote_ip")) & (pl.col("remote_port") == pl.col("dstport"))
    service = pl.col("dstport").replace_strict(SERVICES, default=None, return_dtype=pl.String)
    tries = flows.filter(CANDIDATE, target | actor).with_columns(
        pl.coalesce("instance_id", "interface_id").alias("resource"),
        pl.when(target).then(pl.lit("TARGET")).otherwise(pl.lit("ACTOR")).alias("role"),
        service.alias("service"),
        pl.col("event_time").dt.truncate(s.brute_force_window).alias("bucket"),
    )
    group = ["account_id", "region", "resource", "role", "remote_ip", "service", "bucket"]
    needed = (
        pl.when(pl.col("service") == "SSH")
        .then(s.ssh_min_attempts)
        .when(pl.col("service") == "RDP")
        .then(s.rdp_min_attempts)
        .otherwise(s.winrm_min_attempts)
    )
    brute = tries.with_columns(pl.col("srcport").n_unique().over(group).alias("attempts")).filter(
        pl.col("attempts") >= needed
    )
    if brute.is_empty():
        return no_hits()
    actor_role = pl.col("role") == "ACTOR"
    severity = pl.when(actor_role).then(float(Severity.HIGH)).otherwise(float(Severity.LOW))
    info = pl.struct(
        pl.col("attempts").alias("connectionAttempts"),
        pl.lit(int(s.brute_force_window.total_seconds() // 60)).alias("windowMinutes"),
        pl.when(actor_role).then(pl.col("resource")).otherwise(pl.col("remote_ip")).alias("attacker"),
        pl.when(actor_role).then(pl.col("remote_ip")).otherwise(pl.col("resource")).alias("victim"),
    ).struct.json_encode()
    found = [
        hits(
            brute.filter(pl.col("service") == name),
            ftype,
            key=("resource", "role", "remote_ip"),
            severity=severity,
            resource_role=pl.col("role"),
            info=info,
        )
        for name, ftype in TYPES.items()
    ]
    return pl.concat(found, how="vertical")
