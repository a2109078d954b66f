"""UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.* and ResourceCredentialExfiltration.*.

GuardDuty's triggers: temporary credentials made for one compute resource (an EC2 instance's
role session; a Lambda function's or ECS task's role session) are used to call AWS APIs from
somewhere that resource is not: an address outside AWS's published IP ranges (``.OutsideAWS``),
or an address or VPC endpoint owned by a different AWS account (``.InsideAWS``; Medium instead
of High when that account is affiliated). Management and S3 data events count, failed calls
too (the credentials were used, whatever the outcome).

Whose credentials (per record, except where noted):

- **EC2 instance**: an ``AssumedRole`` session whose session name (the ARN's last part, else the
  principal id's) is an instance id, ``i-`` and 8 or 17 hex digits, any case (LogLicker's
  anonymised logs mix it: ``i-786a3A8B5C0d92eF4``), or that carries ``ec2RoleDelivery``; its
  key, when logged, is an ``ASIA`` key.
- **Lambda function / ECS task** (learned, kept in ``ctx.state`` across batches): the key that
  ``sts:AssumeRole`` handed out when ``lambda.amazonaws.com`` or ``ecs-tasks.amazonaws.com``
  assumed the role (``responseElements.credentials.accessKeyId``; ``roleSessionName`` is the
  function name or task id), or a key whose calls from inside AWS carry the SDK's
  ``exec-env/AWS_Lambda_…`` or ``exec-env/AWS_ECS_…`` user-agent marker. A key counts from that
  event's time for :data:`MAX_SESSION` (no role session lasts longer).

Where from (the enrichment columns of ``keibi.enrich``):

- ``.OutsideAWS``: ``sourceIPAddress`` is a public IP in no prefix of AWS's ``ip-ranges.json``
  (``remote_aws_prefix`` null). ``additionalInfo.decidedBy`` names the snapshot
  (``ctx.aws_ip_ranges_date``). Not counted: AWS service host names and ``AWS Internal`` (no IP),
  private addresses (calls through the VPC and its endpoints), calls a service makes on the
  principal's behalf (``invokedBy``), and addresses on a trusted list, which is how an operator
  silences the documented false positive: instances (Outposts, VPN) or ECS Anywhere tasks whose
  traffic leaves through an on-prem gateway.
- ``.InsideAWS``: the call came through a VPC endpoint owned by another account
  (``vpcEndpointAccountId``, logged since 2024, differs from the credentials' account,
  ``userIdentity.accountId``). The remote account is *affiliated* (Medium) when keibi has read
  an event of that account at or before the call's event time in this scan: an account whose
  logs keibi reads is one it guards. ``additionalInfo`` carries ``remoteAccountId``,
  ``affiliated``, ``vpcEndpointId``, ``decidedBy`` and, when the address is AWS's,
  ``awsIpRange`` (prefix, region, service). Endpoints shared from a networking account (shared
  VPCs, centralised endpoints) raise this too, Medium when keibi reads that account: GuardDuty
  learns such accounts as expected, keibi leaves it to a suppression filter on
  ``service.action.awsApiCallAction.remoteAccountDetails.accountId``.

Not done: a *public* AWS address with no account evidence raises nothing. GuardDuty tells the
instance's own addresses from another account's EC2 address with IP ownership data keibi does
not have; guessing "normal" addresses per instance (its first public IP, say) would flag every
stop/start or NAT change and miss credentials stolen before that address was learned. Nor
are repeated outside sources learned as expected, as GuardDuty's ML does: each use raises
(one finding per key), and the trusted list is the way to silence a known source.

State and determinism: the state frame (learned keys, and the first event time of every account
seen) is updated from the batch *before* matching, so an ``AssumeRole`` and its use in the same
batch join, and each match only looks at facts with event times at or before the use (a key from
its ``AssumeRole`` or first marked call on, for :data:`MAX_SESSION`). Files are fed in
event-time order, so results do not depend on batch size as long as records arrive at most
:data:`LATENESS` out of order across a batch break; a key is pruned once it is
:data:`MAX_SESSION` plus :data:`LATENESS` older than the newest event seen, accounts are kept
(there are few). The engine keeps the state in the store between scans, so a key learned from
one scan's ``AssumeRole`` is still recognised when the next scan's files show it used outside.

One finding per type and credential (the access key; the session ARN when no key is logged).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import polars as pl

from keibi.detect import ROW, DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.intel import is_private

DETECTOR_ID: Final = "iam.credential_exfiltration"
MAX_SESSION: Final = timedelta(hours=12)  # the longest a role session (and its key) can last
LATENESS: Final = timedelta(minutes=15)  # how far out of event-time order records may arrive

INSTANCE_ID: Final = r"i-[0-9a-f]{8}(?:[0-9a-f]{9})?"  # matched case-insensitively
# Services that assume a role on behalf of a compute resource → that resource's type.
RESOURCE_SERVICES: Final[dict[str, str]] = {
    "lambda.amazonaws.com": "Lambda",
    "ecs-tasks.amazonaws.com": "ECS",
}
# The SDKs' AWS_EXECUTION_ENV user-agent markers → the resource type they run in.
EXEC_ENV_MARKERS: Final[dict[str, str]] = {"exec-env/AWS_Lambda_": "Lambda", "exec-env/AWS_ECS_": "ECS"}
CALL_TYPES: Final = ("AwsApiCall", "AwsConsoleSignIn")
CALL_COLUMNS: Final = (
    ROW,
    "event_time",
    "account_id",
    "region",
    "event_type",
    "user_type",
    "invoked_by",
    "user_arn",
    "principal_id",
    "access_key_id",
    "user_account_id",
    "recipient_account_id",
    "ec2_role_delivery",
    "user_agent",
    "vpc_endpoint_id",
    "vpc_endpoint_account_id",
    "remote_ip",
    "remote_trusted",
    "remote_aws_prefix",
    "remote_aws_region",
    "remote_aws_service",
)

TIME = pl.Datetime("us", "UTC")
# kind "key": id is an access key, resource its type; kind "account": id is an account id.
# learned_from says how a key was recognised (for the finding), since is when it was first seen.
STATE: Final[pl.Schema] = pl.Schema(
    {
        "kind": pl.String(),
        "id": pl.String(),
        "resource": pl.String(),
        "name": pl.String(),
        "learned_from": pl.String(),
        "since": TIME,
    }
)

INSTANCE_OUTSIDE_AWS = FindingType(
    type="UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_management", "cloudtrail_s3_data"),
    resource_type="AccessKey",
    detection="signature",
    action_type="AWS_API_CALL",
    title="Credentials for instance role {user_name} used from external IP address.",
    description=(
        "Credentials created exclusively for an EC2 instance ({instanceId}) using instance role "
        "{user_name} have been used from external IP address {remote_ip}, outside AWS's published ranges."
    ),
)
INSTANCE_INSIDE_AWS = FindingType(
    type="UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_management", "cloudtrail_s3_data"),
    resource_type="AccessKey",
    detection="signature",
    action_type="AWS_API_CALL",
    title="Credentials for instance role {user_name} used from a remote AWS account.",
    description=(
        "Credentials created exclusively for an EC2 instance ({instanceId}) using instance role "
        "{user_name} have been used from AWS account {remoteAccountId}, not the instance's own."
    ),
)
RESOURCE_OUTSIDE_AWS = FindingType(
    type="UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.OutsideAWS",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_management", "cloudtrail_s3_data"),
    resource_type="AccessKey",
    detection="signature",
    action_type="AWS_API_CALL",
    title="Credentials for {resourceType} resource role {user_name} used from external IP address.",
    description=(
        "Credentials created exclusively for {resourceType} resource {resourceName} using role "
        "{user_name} have been used from external IP address {remote_ip}, outside AWS's published ranges."
    ),
)
RESOURCE_INSIDE_AWS = FindingType(
    type="UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.InsideAWS",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_management", "cloudtrail_s3_data"),
    resource_type="AccessKey",
    detection="signature",
    action_type="AWS_API_CALL",
    title="Credentials for {resourceType} resource role {user_name} used from a remote AWS account.",
    description=(
        "Credentials created exclusively for {resourceType} resource {resourceName} using role "
        "{user_name} have been used from AWS account {remoteAccountId}, not the resource's own."
    ),
)


def _empty_state() -> pl.DataFrame:
    return pl.DataFrame(schema=STATE)


def _session_name() -> pl.Expr:
    """The role session name: the assumed-role ARN's last part, else the principal id's.

    A capturing regex is the costliest step here, so it only runs on the few rows that are
    learned or raised, never on the whole batch."""
    from_arn = pl.col("user_arn").str.extract(r":assumed-role/[^/]+/(.+)$", 1)
    from_principal = pl.col("principal_id").str.extract(r"^[^:]+:(.+)$", 1)
    return pl.coalesce(from_arn, from_principal)


def _instance_session() -> pl.Expr:
    """The session is an EC2 instance's: its name is an instance id, or it has ``ec2RoleDelivery``."""
    by_arn = pl.col("user_arn").str.contains(rf"(?i):assumed-role/[^/]+/{INSTANCE_ID}$")
    by_principal = pl.col("principal_id").str.contains(rf"(?i)^[^:/]+:{INSTANCE_ID}$")
    named = pl.when(pl.col("user_arn").is_not_null()).then(by_arn).otherwise(by_principal)
    return named | pl.col("ec2_role_delivery").is_not_null()


def _marker() -> pl.Expr:
    """The exec-env marker the user agent carries (a key of :data:`EXEC_ENV_MARKERS`), else null."""
    ua = pl.col("user_agent")
    expr: pl.Expr = pl.lit(None, pl.String)
    for marker in reversed(EXEC_ENV_MARKERS):
        expr = pl.when(ua.str.contains(marker, literal=True)).then(pl.lit(marker)).otherwise(expr)
    return expr


def _classified(events: pl.DataFrame) -> pl.DataFrame:
    """The role-session calls of ``events`` with where they came from and whose they are."""
    # Only the columns read here and by ``hits``: most of a batch is role-session calls, and
    # copying its wide JSON-text columns would double the batch in memory.
    calls = events.select(CALL_COLUMNS).filter(
        pl.col("user_type") == "AssumedRole",
        pl.col("event_type").is_in(CALL_TYPES),
        pl.col("invoked_by").is_null(),
    )
    calls = calls.with_columns(
        _own_account=pl.coalesce("user_account_id", "recipient_account_id"),
        _private=is_private(calls["remote_ip"]).fill_null(False),
    )
    key = pl.col("access_key_id")
    remote_account = (
        pl.when(
            pl.col("vpc_endpoint_account_id").is_not_null()
            & (pl.col("vpc_endpoint_account_id") != pl.col("_own_account")).fill_null(True)
        )
        .then(pl.col("vpc_endpoint_account_id"))
        .otherwise(None)
    )
    return calls.with_columns(
        _credential=pl.coalesce(key, "user_arn", "principal_id"),
        _instance=(_instance_session() & (key.is_null() | key.str.starts_with("ASIA"))).fill_null(False),
        _remote_account=remote_account,
        _in_aws=pl.col("remote_aws_prefix").is_not_null() | pl.col("_private"),
        _outside=(
            pl.col("remote_ip").is_not_null() & ~pl.col("_private") & pl.col("remote_aws_prefix").is_null()
        ),
        _trusted=pl.col("remote_trusted").fill_null(False),
    )


def _learned(events: pl.DataFrame, calls: pl.DataFrame) -> pl.DataFrame:
    """What this batch teaches, as :data:`STATE` rows: resource keys and accounts seen."""
    service = pl.coalesce("invoked_by", "source_ip")
    assumed = events.filter(
        pl.col("event_name") == "AssumeRole",
        pl.col("event_source") == "sts.amazonaws.com",
        pl.col("user_type") == "AWSService",
        pl.col("error_code").is_null(),
        service.is_in(list(RESOURCE_SERVICES)),
    ).select(
        pl.lit("key").alias("kind"),
        pl.col("response_elements").str.json_path_match("$.credentials.accessKeyId").alias("id"),
        service.replace_strict(RESOURCE_SERVICES, default=None, return_dtype=pl.String).alias("resource"),
        pl.col("request_parameters").str.json_path_match("$.roleSessionName").alias("name"),
        pl.format("sts:AssumeRole by {}", service).alias("learned_from"),
        pl.col("event_time").alias("since"),
    )
    marked = (
        calls.filter(~pl.col("_instance"), pl.col("_in_aws"), pl.col("access_key_id").is_not_null())
        .with_columns(_marker=_marker())
        .filter(pl.col("_marker").is_not_null())
        .group_by("access_key_id")  # each key's first marked call
        .agg(pl.col("_marker", "user_arn", "principal_id", "event_time").get(pl.col("event_time").arg_min()))
        .select(
            pl.lit("key").alias("kind"),
            pl.col("access_key_id").alias("id"),
            pl.col("_marker").replace_strict(EXEC_ENV_MARKERS, return_dtype=pl.String).alias("resource"),
            _session_name().alias("name"),
            pl.format("user agent marker {} on a call from inside AWS", pl.col("_marker")).alias(
                "learned_from"
            ),
            pl.col("event_time").alias("since"),
        )
    )
    accounts = (
        events.filter(pl.col("account_id").is_not_null() & (pl.col("account_id") != ""))
        .group_by("account_id")
        .agg(pl.col("event_time").min().alias("since"))
        .select(
            pl.lit("account").alias("kind"),
            pl.col("account_id").alias("id"),
            pl.lit(None, pl.String).alias("resource"),
            pl.lit(None, pl.String).alias("name"),
            pl.lit(None, pl.String).alias("learned_from"),
            "since",
        )
    )
    return pl.concat([f.cast(STATE) for f in (assumed, marked, accounts)]).filter(
        pl.col("id").is_not_null(), pl.col("since").is_not_null(), pl.col("kind").is_not_null()
    )


def _merged(previous: pl.DataFrame, learned: pl.DataFrame) -> pl.DataFrame:
    """``previous`` plus ``learned``: one row per (kind, id), the earliest (ties: by content)."""
    return (
        pl.concat([previous, learned])
        .sort("since", "resource", "name", "learned_from", nulls_last=True)
        .unique(subset=["kind", "id"], keep="first", maintain_order=True)
    )


def _pruned(state: pl.DataFrame, newest: datetime | None) -> pl.DataFrame:
    """``state`` without the keys no record from now on can use: later batches only hold
    records from ``LATENESS`` before ``newest`` on. Accounts stay (there are few)."""
    if newest is None:
        return state
    alive = (pl.col("kind") == "account") | (pl.col("since") + MAX_SESSION >= pl.lit(newest - LATENESS))
    return state.filter(alive)


def _resource_calls(calls: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    """Non-instance calls made with a key a Lambda function or ECS task was given."""
    keys = state.filter(pl.col("kind") == "key").select(
        pl.col("id").alias("access_key_id"),
        pl.col("resource").alias("_resource"),
        pl.col("name").alias("_resource_name"),
        pl.col("learned_from").alias("_learned_from"),
        pl.col("since").alias("_key_since"),
    )
    joined = calls.filter(~pl.col("_instance")).join(keys, on="access_key_id", how="inner")
    return joined.filter(
        pl.col("event_time") >= pl.col("_key_since"),
        pl.col("event_time") <= pl.col("_key_since") + MAX_SESSION,
    )


def _with_affiliation(rows: pl.DataFrame, state: pl.DataFrame) -> pl.DataFrame:
    accounts = state.filter(pl.col("kind") == "account").select(
        pl.col("id").alias("_remote_account"), pl.col("since").alias("_account_since")
    )
    return rows.join(accounts, on="_remote_account", how="left").with_columns(
        _affiliated=(pl.col("_account_since") <= pl.col("event_time")).fill_null(False)
    )


def _aws_range() -> pl.Expr:
    return pl.struct(
        pl.col("remote_aws_prefix").alias("prefix"),
        pl.col("remote_aws_region").alias("region"),
        pl.col("remote_aws_service").alias("service"),
    )


def _info(ranges: str, subject: list[pl.Expr]) -> tuple[pl.Expr, pl.Expr]:
    """(OutsideAWS info, InsideAWS info) as JSON text; ``subject`` names the resource."""
    outside = pl.struct(
        pl.lit(True).alias("outsideAws"),
        pl.lit(f"not in any prefix of {ranges}").alias("decidedBy"),
        *subject,
    ).struct.json_encode()
    decided = pl.format(
        "vpcEndpointAccountId {} is not the credentials' account {}",
        pl.col("_remote_account"),
        pl.col("_own_account").fill_null("unknown"),
    )
    inside_fields = [
        pl.col("_remote_account").alias("remoteAccountId"),
        pl.col("_affiliated").alias("affiliated"),
        pl.col("vpc_endpoint_id").alias("vpcEndpointId"),
        decided.alias("decidedBy"),
        *subject,
    ]
    inside = (
        pl.when(pl.col("remote_aws_prefix").is_not_null())
        .then(pl.struct(*inside_fields, _aws_range().alias("awsIpRange")).struct.json_encode())
        .otherwise(pl.struct(*inside_fields).struct.json_encode())
    )
    return outside, inside


def _raised(
    rows: pl.DataFrame,
    outside_type: FindingType,
    inside_type: FindingType,
    ranges: str,
    subject: list[pl.Expr],
) -> list[pl.DataFrame]:
    rows = rows.filter(~pl.col("_trusted"))
    inside = rows.filter(pl.col("_remote_account").is_not_null())
    outside = rows.filter(pl.col("_remote_account").is_null() & pl.col("_outside"))
    outside_info, inside_info = _info(ranges, subject)
    severity = pl.when(pl.col("_affiliated")).then(float(Severity.MEDIUM)).otherwise(float(Severity.HIGH))
    return [
        hits(outside, outside_type, key=("_credential",), info=outside_info),
        hits(inside, inside_type, key=("_credential",), severity=severity, info=inside_info),
    ]


@detectors.register(
    DETECTOR_ID,
    source="cloudtrail",
    emits=(INSTANCE_OUTSIDE_AWS, INSTANCE_INSIDE_AWS, RESOURCE_OUTSIDE_AWS, RESOURCE_INSIDE_AWS),
)
def credential_exfiltration(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    # No prefilter: every record tells which accounts keibi reads (affiliation), and the
    # AssumeRole events that hand out resource keys are made by AWSService principals.
    calls = _classified(events)
    # Learn from the batch first (an AssumeRole and its use may share a batch), match against
    # everything known, and keep only what later batches can still use.
    state = _merged(ctx.state.get(DETECTOR_ID, _empty_state()), _learned(events, calls))
    newest = events["event_time"].max()
    ctx.state[DETECTOR_ID] = _pruned(state, newest if isinstance(newest, datetime) else None)
    if calls.is_empty():
        return no_hits()
    suspect = calls.filter(pl.col("_remote_account").is_not_null() | pl.col("_outside"))
    if suspect.is_empty():
        return no_hits()
    suspect = _with_affiliation(suspect, state).with_columns(_session=_session_name())
    ranges = "ip-ranges.json" + (f" createDate {ctx.aws_ip_ranges_date}" if ctx.aws_ip_ranges_date else "")
    instance = suspect.filter(pl.col("_instance"))
    resource = _resource_calls(suspect, state)
    found = [
        *_raised(
            instance,
            INSTANCE_OUTSIDE_AWS,
            INSTANCE_INSIDE_AWS,
            ranges,
            [pl.col("_session").alias("instanceId")],
        ),
        *_raised(
            resource,
            RESOURCE_OUTSIDE_AWS,
            RESOURCE_INSIDE_AWS,
            ranges,
            [
                pl.col("_resource").alias("resourceType"),
                pl.col("_resource_name").alias("resourceName"),
                pl.col("_learned_from").alias("recognisedBy"),
            ],
        ),
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
