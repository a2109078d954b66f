"""UnauthorizedAccess:EC2/MaliciousIPCaller.Custom: the instance talks to an IP on a custom threat list.

GuardDuty's trigger: flow logs show the instance communicating with an IP on one of the
customer's active threat lists. "Communicating" is taken as: any accepted flow in either
direction, plus rejected flows the instance started (a blocked call home still says the
instance wants to reach the listed host). Rejected inbound flows do not count: unsolicited
traffic stopped at the security group says nothing about the instance. Trusted entries
never arrive here (enrichment nulls ``remote_custom_list``).

One finding per instance (or ENI) and remote address, as for the feed-typed flow findings
(``keibi.detect.network.threat_feeds``): a second listed host is a second finding, not one
more count on the first. The instance is the ``TARGET`` whichever side opened the connection
(the direction is in the action details); ``additionalInfo.threatListName`` names the list.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

MALICIOUS_IP_CUSTOM = FindingType(
    type="UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with an IP address on a custom threat list.",
    description=(
        "EC2 instance {resource_id} is communicating with IP address {remote_ip} on port {remote_port}, "
        "which is on the threat list {threat_list}."
    ),
)


@detectors.register(
    "network.malicious_ip_custom",
    source="vpc_flow",
    emits=(MALICIOUS_IP_CUSTOM,),
    prefilter=pl.col("remote_custom_list").is_not_null(),
)
def malicious_ip_custom(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    talking = (pl.col("action") == "ACCEPT") | (pl.col("direction") == "OUTBOUND")
    listed = flows.filter(pl.col("remote_custom_list").is_not_null(), talking.fill_null(False)).with_columns(
        pl.coalesce("instance_id", "interface_id").alias("resource")
    )
    info = pl.struct(pl.col("remote_custom_list").alias("threatListName")).struct.json_encode()
    return hits(listed, MALICIOUS_IP_CUSTOM, key=("resource", "remote_ip"), info=info)
