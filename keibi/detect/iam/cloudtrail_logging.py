"""Stealth:IAMUser/CloudTrailLoggingDisabled: a principal stopped, deleted or narrowed a trail.

GuardDuty's trigger: a successful ``StopLogging`` or ``DeleteTrail``, or a trail update that
disables logging. ``UpdateTrail`` cannot switch logging off by itself, so keibi counts it
only when it narrows what the trail records: ``isMultiRegionTrail`` or
``includeGlobalServiceEvents`` set to false (conservative: moving the bucket or the KMS key
is a routine change). Failed calls do not count (``errorCode`` set), nor do AWS services
acting on their own (``userIdentity.type`` ``AWSService``); a user's CloudFormation stack
deleting a trail does count, because the user asked for it. Not covered: the deletion of a
trail's S3 bucket, which needs to know which bucket is a trail's.

One finding per principal; ``info`` names the trail of the latest call.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

CLOUDTRAIL_LOGGING_DISABLED = FindingType(
    type="Stealth:IAMUser/CloudTrailLoggingDisabled",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="policy",
    action_type="AWS_API_CALL",
    title="AWS CloudTrail trail logging was disabled by {principal_id}.",
    description=(
        "The API {api} was called by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "which stops or removes CloudTrail logging in this account."
    ),
)

ALWAYS_DISABLING: Final = ("StopLogging", "DeleteTrail")
NARROWING_FLAGS: Final = ("isMultiRegionTrail", "includeGlobalServiceEvents")


def _narrowing_update() -> pl.Expr:
    params = pl.col("request_parameters")
    turned_off = [
        params.str.json_path_match(f"$.{flag}").str.to_lowercase() == "false" for flag in NARROWING_FLAGS
    ]
    return (pl.col("event_name") == "UpdateTrail") & pl.any_horizontal(turned_off).fill_null(False)


@detectors.register(
    "iam.cloudtrail_logging",
    source="cloudtrail",
    emits=(CLOUDTRAIL_LOGGING_DISABLED,),
    prefilter=pl.col("event_source") == "cloudtrail.amazonaws.com",
)
def cloudtrail_logging(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = events.filter(
        pl.col("event_source") == "cloudtrail.amazonaws.com",
        pl.col("event_name").is_in(ALWAYS_DISABLING) | _narrowing_update(),
        pl.col("error_code").is_null(),
        (pl.col("user_type") != "AWSService").fill_null(True),
    )
    trail = pl.col("request_parameters").str.json_path_match("$.name").str.replace(r"^arn:.*:trail/", "")
    info = pl.struct(trail.alias("trailName")).struct.json_encode()
    return hits(calls, CLOUDTRAIL_LOGGING_DISABLED, key=("principal_id",), info=info)
