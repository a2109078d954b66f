"""DefenseEvasion:IAMUser/BedrockLoggingDisabled: Amazon Bedrock model invocation logging turned off.

GuardDuty's trigger: a principal disabled model invocation logging, which records the prompts
and answers of every model call in the region (an LLM-jacking attacker's first step). keibi
counts a successful ``DeleteModelInvocationLoggingConfiguration`` (what the console's "off"
switch calls), and a successful ``PutModelInvocationLoggingConfiguration`` whose
``loggingConfig`` names no destination: neither ``s3Config.bucketName`` nor
``cloudWatchConfig.logGroupName`` (an empty ``{}`` counts as absent). A Put that keeps a
destination but stops delivering text, image or embedding data is not counted: the metadata
of each call is still logged. A Put whose ``requestParameters`` lack ``loggingConfig`` is not
counted either: the record cannot show what was set. Failed calls (``errorCode`` set) and AWS
services acting on their own (``userIdentity.type`` ``AWSService``) do not count.

One finding per principal; ``info.reason`` says which of the two ways the latest call took.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

BEDROCK_LOGGING_DISABLED = FindingType(
    type="DefenseEvasion:IAMUser/BedrockLoggingDisabled",
    severity=Severity.MEDIUM,
    data_sources=("cloudtrail_management",),
    resource_type="AccessKey",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Amazon Bedrock model invocation logging was disabled by {principal_id}.",
    description=(
        "The API {api} was invoked by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "which turns off Amazon Bedrock model invocation logging in region {region}."
    ),
)

DELETE: Final = "DeleteModelInvocationLoggingConfiguration"
PUT: Final = "PutModelInvocationLoggingConfiguration"
# Where logs go; a loggingConfig with none of these delivers nothing.
DESTINATIONS: Final = ("$.loggingConfig.s3Config.bucketName", "$.loggingConfig.cloudWatchConfig.logGroupName")


def _no_destination() -> pl.Expr:
    params = pl.col("request_parameters")
    named = [(params.str.json_path_match(path).str.len_chars() > 0).fill_null(False) for path in DESTINATIONS]
    has_config = params.str.json_path_match("$.loggingConfig").is_not_null()
    return (pl.col("event_name") == PUT) & has_config & ~pl.any_horizontal(named)


@detectors.register(
    "iam.bedrock_logging",
    source="cloudtrail",
    emits=(BEDROCK_LOGGING_DISABLED,),
    prefilter=pl.col("event_source") == "bedrock.amazonaws.com",
)
def bedrock_logging(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = events.filter(
        pl.col("event_source") == "bedrock.amazonaws.com",
        (pl.col("event_name") == DELETE) | _no_destination(),
        pl.col("error_code").is_null(),
        (pl.col("user_type") != "AWSService").fill_null(True),
    )
    reason = (
        pl.when(pl.col("event_name") == DELETE)
        .then(pl.lit("logging configuration deleted"))
        .otherwise(pl.lit("logging configuration has no S3 or CloudWatch Logs destination"))
    )
    info = pl.struct(reason.alias("reason")).struct.json_encode()
    return hits(calls, BEDROCK_LOGGING_DISABLED, key=("principal_id",), info=info)
