"""Stealth:S3/ServerAccessLoggingDisabled: a principal switched off a bucket's server access logging.

GuardDuty's trigger: a successful ``PutBucketLogging`` that disables server access logging.
S3 disables it when the request's ``BucketLoggingStatus`` holds no ``LoggingEnabled`` element
(CloudTrail logs it as ``{"xmlns": ...}`` or an empty string); a request that enables logging
or moves it to another target bucket keeps ``LoggingEnabled`` and does not count. A request
whose parameters show no ``BucketLoggingStatus`` at all is not judged. Failed calls
(``errorCode`` set) and AWS services acting on their own (``userIdentity.type``
``AWSService``) do not count.

One finding per bucket and principal.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

SERVER_ACCESS_LOGGING_DISABLED = FindingType(
    type="Stealth:S3/ServerAccessLoggingDisabled",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management",),
    resource_type="S3Bucket",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Server access logging was disabled for S3 bucket {bucket}.",
    description=(
        "The API {api} was called by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "turning off server access logging for bucket {bucket}."
    ),
)

S3_SOURCE: Final = "s3.amazonaws.com"
PUT_LOGGING: Final = "PutBucketLogging"


@detectors.register(
    "s3.access_logging",
    source="cloudtrail",
    emits=(SERVER_ACCESS_LOGGING_DISABLED,),
    prefilter=(pl.col("event_source") == S3_SOURCE) & (pl.col("event_name") == PUT_LOGGING),
)
def access_logging(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    params = pl.col("request_parameters")
    status = params.str.json_path_match("$.BucketLoggingStatus")
    calls = events.filter(
        pl.col("event_source") == S3_SOURCE,
        pl.col("event_name") == PUT_LOGGING,
        pl.col("error_code").is_null(),
        (pl.col("user_type") != "AWSService").fill_null(True),
        status.is_not_null(),
        status.str.json_path_match("$.LoggingEnabled").is_null(),
    ).with_columns(params.str.json_path_match("$.bucketName").alias("bucket_name"))
    return hits(calls, SERVER_ACCESS_LOGGING_DISABLED, key=("bucket_name", "principal_id"))
