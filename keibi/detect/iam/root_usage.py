"""Policy:IAMUser/RootCredentialUsage: a successful API call made with root credentials.

GuardDuty's trigger: root's credentials were used for a (management or S3 data) API call.
Not counted: calls AWS services make as root on the account's behalf (``invokedBy`` set, or
a service host name as ``sourceIPAddress``),
failed calls, and console sign-in events (``AwsConsoleSignIn`` is not an API call).
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

ROOT_CREDENTIAL_USAGE = FindingType(
    type="Policy:IAMUser/RootCredentialUsage",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management", "cloudtrail_s3_data"),
    resource_type="AccessKey",
    detection="policy",
    action_type="AWS_API_CALL",
    title="The API {api} was invoked using root credentials.",
    description="The API {api} was invoked using root credentials from IP address {remote_ip}.",
)


@detectors.register(
    "iam.root_usage",
    source="cloudtrail",
    emits=(ROOT_CREDENTIAL_USAGE,),
    prefilter=pl.col("user_type") == "Root",
)
def root_usage(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = events.filter(
        pl.col("user_type") == "Root",
        pl.col("invoked_by").is_null(),
        pl.col("error_code").is_null(),
        pl.col("event_type") == "AwsApiCall",
        pl.col("source_ip").str.ends_with(".amazonaws.com").not_().fill_null(True),
    )
    return hits(calls, ROOT_CREDENTIAL_USAGE, key=("principal_id",))
