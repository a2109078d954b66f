"""Policy:IAMUser/RootCredentialUsage and Policy:IAMUser/ShortTermRootCredentialUsage.

GuardDuty's triggers: a (management or S3 data) API call made with the root user's
credentials; the short-term type when those were the restricted, short-term root credentials
of centralized root access. Both types count only successful ``AwsApiCall`` events whose
``userIdentity.type`` is ``Root``. Not counted: calls AWS services make as root on the
account's behalf (``invokedBy`` set, or a service host name as ``sourceIPAddress``), failed
calls, and console sign-in events (``AwsConsoleSignIn`` is not an API call).

Which type: the management account (or the delegated administrator for IAM) calls
``sts:AssumeRoot`` for a member account and gets at most 15 minutes of root credentials
scoped by a task policy (``root-task/S3UnlockBucketPolicy``, ``IAMDeleteRootUserCredentials``,
…). The member account's trail logs the calls made with them as ``type`` ``Root``, an
``ASIA`` key and a ``sessionContext`` carrying ``"assumedRoot": "true"``. That flag alone
decides (column ``session_assumed_root``): an ``ASIA`` key and a ``sessionContext`` also
mark root's own console sessions and ``GetSessionToken`` sessions, which are long-term root
credentials in use and stay ``RootCredentialUsage``. So each call raises exactly one of the two
types. The ``AssumeRoot`` call itself is made by an IAM principal of the management account,
not with root credentials, and raises neither (even where its ``sessionContext`` also shows
``assumedRoot``). Not done: tying a member-account session back to the ``AssumeRoot`` caller
(its ``responseElements.credentials.accessKeyId``), which is logged in another account's trail.

One finding per type and principal (for root, the account id).
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits

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
SHORT_TERM_ROOT_CREDENTIAL_USAGE = FindingType(
    type="Policy:IAMUser/ShortTermRootCredentialUsage",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management", "cloudtrail_s3_data"),
    resource_type="AccessKey",
    detection="policy",
    action_type="AWS_API_CALL",
    title="The API {api} was invoked using restricted short-term root credentials.",
    description=(
        "The API {api} was invoked using restricted short-term root credentials (a centralized root "
        "access session, sts:AssumeRoot) from IP address {remote_ip}."
    ),
)


@detectors.register(
    "iam.root_usage",
    source="cloudtrail",
    emits=(ROOT_CREDENTIAL_USAGE, SHORT_TERM_ROOT_CREDENTIAL_USAGE),
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
    short_term = pl.col("session_assumed_root").fill_null(False)
    found = [
        hits(calls.filter(~short_term), ROOT_CREDENTIAL_USAGE, key=("principal_id",)),
        hits(calls.filter(short_term), SHORT_TERM_ROOT_CREDENTIAL_USAGE, key=("principal_id",)),
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
