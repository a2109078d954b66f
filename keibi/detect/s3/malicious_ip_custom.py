"""Discovery:S3/MaliciousIPCaller.Custom and UnauthorizedAccess:S3/MaliciousIPCaller.Custom.

GuardDuty's trigger: an S3 API call (CloudTrail S3 data events) from an address on one of the
customer's active threat lists. Discovery APIs (class ``s3_discovery`` in
``keibi.detect.api_classes``) give the Discovery type; any other S3 data API, classified or
not, the UnauthorizedAccess type.

Failed calls count; calls AWS services make on a principal's behalf do not; an address also
on a trusted list never arrives here (enrichment nulls ``remote_custom_list``). Anonymous
callers count too, keyed by their address. One finding per bucket, caller and list;
``threatListName`` names the list.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.s3._data_events import API_CLASS, BUCKET, CALLER, S3_DATA, s3_data_calls

DISCOVERY_MALICIOUS_IP_CUSTOM = FindingType(
    type="Discovery:S3/MaliciousIPCaller.Custom",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="An S3 API commonly used to discover resources, {api}, was invoked on bucket {bucket} from an IP address on a custom threat list.",
    description="S3 API {api} was invoked on bucket {bucket} from IP address {remote_ip}, which is on the threat list {threat_list}.",
)
UNAUTHORIZED_MALICIOUS_IP_CUSTOM = FindingType(
    type="UnauthorizedAccess:S3/MaliciousIPCaller.Custom",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_s3_data",),
    resource_type="S3Bucket",
    detection="threat_intel",
    action_type="AWS_API_CALL",
    title="S3 API {api} was invoked on bucket {bucket} from an IP address on a custom threat list.",
    description="S3 API {api} was invoked on bucket {bucket} from IP address {remote_ip}, which is on the threat list {threat_list}.",
)

LISTED = pl.col("remote_custom_list").is_not_null()


@detectors.register(
    "s3.malicious_ip_custom",
    source="cloudtrail",
    emits=(DISCOVERY_MALICIOUS_IP_CUSTOM, UNAUTHORIZED_MALICIOUS_IP_CUSTOM),
    prefilter=(S3_DATA & LISTED).fill_null(False),
)
def malicious_ip_custom(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = s3_data_calls(events, LISTED)
    discovery = (pl.col(API_CLASS) == "s3_discovery").fill_null(False)
    key = (BUCKET, CALLER, "remote_custom_list")
    info = pl.struct(pl.col("remote_custom_list").alias("threatListName")).struct.json_encode()
    found = [
        hits(calls.filter(discovery), DISCOVERY_MALICIOUS_IP_CUSTOM, key=key, info=info),
        hits(calls.filter(~discovery), UNAUTHORIZED_MALICIOUS_IP_CUSTOM, key=key, info=info),
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
