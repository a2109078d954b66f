"""Recon:IAMUser/MaliciousIPCaller.Custom and UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom.

GuardDuty's trigger: an API call (management events) from an IP address on one of the
customer's active threat lists; discovery calls (``keibi.detect.api_classes``) give the Recon
type, every other call the UnauthorizedAccess type. Failed calls count too: the caller is
listed, whatever the outcome. Calls an AWS service makes on a principal's behalf
(``invokedBy`` set, or a ``userIdentity.type`` of ``AWSService``) do not: the address is the
service's. An address also on a trusted list never arrives here (enrichment nulls
``remote_custom_list``). One finding per principal and list;
``additionalInfo.threatListName`` names the list.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors
from keibi.detect.iam.malicious_ip import management_calls, recon_split

RECON_MALICIOUS_IP_CUSTOM = FindingType(
    type="Recon:IAMUser/MaliciousIPCaller.Custom",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="Reconnaissance API {api} was invoked from an IP address on a custom threat list.",
    description=(
        "API {api} was invoked by {principal_id} from IP address {remote_ip}, which is on the "
        "threat list {threat_list}. Such APIs are commonly used to discover an account's resources."
    ),
)
UNAUTHORIZED_MALICIOUS_IP_CUSTOM = FindingType(
    type="UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="API {api} was invoked from an IP address on a custom threat list.",
    description="API {api} was invoked by {principal_id} from IP address {remote_ip}, which is on the threat list {threat_list}.",
)


@detectors.register(
    "iam.malicious_ip_custom",
    source="cloudtrail",
    emits=(RECON_MALICIOUS_IP_CUSTOM, UNAUTHORIZED_MALICIOUS_IP_CUSTOM),
    prefilter=pl.col("remote_custom_list").is_not_null(),
)
def malicious_ip_custom(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    info = pl.struct(pl.col("remote_custom_list").alias("threatListName")).struct.json_encode()
    return recon_split(
        management_calls(events, pl.col("remote_custom_list").is_not_null()),
        RECON_MALICIOUS_IP_CUSTOM,
        UNAUTHORIZED_MALICIOUS_IP_CUSTOM,
        key=("principal_id", "remote_custom_list"),
        info=info,
    )
