"""Policy:S3/* public-access findings: Block Public Access turned off, a bucket opened to anyone.

GuardDuty's triggers, read from successful CloudTrail management calls (failed calls, with
``errorCode`` set, and AWS services acting on their own, ``userIdentity.type`` ``AWSService``,
do not count):

- ``Policy:S3/AccountBlockPublicAccessDisabled``: account-level S3 Block Public Access
  relaxed. S3 Control's ``PutPublicAccessBlock`` / ``DeletePublicAccessBlock`` are logged as
  ``PutAccountPublicAccessBlock`` / ``DeleteAccountPublicAccessBlock``, with event source
  ``s3.amazonaws.com`` (some pipelines write ``s3-control.amazonaws.com``; both are read).
- ``Policy:S3/BucketBlockPublicAccessDisabled``: the same on one bucket
  (``PutBucketPublicAccessBlock`` / ``DeleteBucketPublicAccessBlock``). A bare
  ``PutPublicAccessBlock`` / ``DeletePublicAccessBlock`` counts for the bucket it names, else
  for the account. A put relaxes the block when any of the four settings is not true: S3
  reads a setting left out of ``PublicAccessBlockConfiguration`` as false. A put whose
  request shows no configuration at all is not judged.
- ``Policy:S3/BucketAnonymousAccessGranted`` (High): after ``PutBucketPolicy`` or
  ``PutBucketAcl`` anyone on the internet can reach the bucket. A policy does so with an
  ``Allow`` statement for ``Principal`` ``*`` (or ``{"AWS": "*"}``, or ``*`` among a list),
  or any ``NotPrincipal``, unless its ``Condition`` pins the caller down: a positive operator
  (``StringEquals``, ``StringLike``, ``ArnEquals``, ``ArnLike``, ``IpAddress``, with or
  without ``ForAnyValue:``) on a key of ``RESTRICTING_CONDITION_KEYS`` with a value other
  than a wildcard (``*``, ``0.0.0.0/0``, ``::/0``). Negated operators, ``…IfExists`` and
  ``Null`` leave the door open, as do keys the caller controls (``aws:Referer``,
  ``aws:UserAgent``) or that say nothing about who (``aws:SecureTransport``). An ACL does so
  with a grant to the ``AllUsers`` group (in the body or an ``x-amz-grant-*`` header), or
  the canned ``public-read`` / ``public-read-write``.
- ``Policy:S3/BucketPublicAccessGranted`` (High): the ACL opens the bucket to every
  authenticated AWS user instead: a grant to ``AuthenticatedUsers`` or canned
  ``authenticated-read``. When a call does both, only the anonymous type is raised.

GuardDuty decides publicness with automated reasoning over the whole resulting policy and the
Block Public Access state; keibi reads only the request, so it does not weigh ``Deny``
statements that fence an open ``Allow`` (GuardDuty itself then reports ``UNKNOWN``), nor a
Block Public Access setting that would neutralise the grant. ``PutObjectAcl`` is left out:
it opens one object, not the bucket, and GuardDuty's types are bucket-level.

One finding per bucket and principal (per principal for the account-level type); ``info``
carries ``publicAccess`` in GuardDuty's ``PublicAccess`` shape (``effectivePermission``,
``permissionConfiguration``) plus a ``grant`` sentence naming what opened the bucket.
"""

from __future__ import annotations

import re
from typing import Final

import polars as pl

from keibi.detect import ROW, DetectContext, FindingType, Severity, detectors, hits

ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED = FindingType(
    type="Policy:S3/AccountBlockPublicAccessDisabled",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management",),
    resource_type="S3Bucket",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Amazon S3 Block Public Access was disabled for account {account_id}.",
    description=(
        "The API {api} was called by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "turning off S3 Block Public Access settings for all buckets of account {account_id}."
    ),
)
BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED = FindingType(
    type="Policy:S3/BucketBlockPublicAccessDisabled",
    severity=Severity.LOW,
    data_sources=("cloudtrail_management",),
    resource_type="S3Bucket",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Amazon S3 Block Public Access was disabled for S3 bucket {bucket}.",
    description=(
        "The API {api} was called by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "turning off S3 Block Public Access settings for bucket {bucket}."
    ),
)
BUCKET_ANONYMOUS_ACCESS_GRANTED = FindingType(
    type="Policy:S3/BucketAnonymousAccessGranted",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_management",),
    resource_type="S3Bucket",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Amazon S3 bucket {bucket} was made accessible to anyone on the internet.",
    description=(
        "The API {api} was called by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "granting anonymous access to bucket {bucket}."
    ),
)
BUCKET_PUBLIC_ACCESS_GRANTED = FindingType(
    type="Policy:S3/BucketPublicAccessGranted",
    severity=Severity.HIGH,
    data_sources=("cloudtrail_management",),
    resource_type="S3Bucket",
    detection="policy",
    action_type="AWS_API_CALL",
    title="Amazon S3 bucket {bucket} was made accessible to all authenticated AWS users.",
    description=(
        "The API {api} was called by {user_name} ({principal_id}) from IP address {remote_ip}, "
        "granting every authenticated AWS user access to bucket {bucket}."
    ),
)

S3_SOURCES: Final = ("s3.amazonaws.com", "s3-control.amazonaws.com")
ACCOUNT_PUT: Final = "PutAccountPublicAccessBlock"
ACCOUNT_DELETE: Final = "DeleteAccountPublicAccessBlock"
BUCKET_PUT: Final = "PutBucketPublicAccessBlock"
BUCKET_DELETE: Final = "DeleteBucketPublicAccessBlock"
BARE_PUT: Final = "PutPublicAccessBlock"  # bucket-level when it names a bucket
BARE_DELETE: Final = "DeletePublicAccessBlock"
PUT_POLICY: Final = "PutBucketPolicy"
PUT_ACL: Final = "PutBucketAcl"
EVENTS: Final = (
    ACCOUNT_PUT,
    ACCOUNT_DELETE,
    BUCKET_PUT,
    BUCKET_DELETE,
    BARE_PUT,
    BARE_DELETE,
    PUT_POLICY,
    PUT_ACL,
)

# S3 request field → GuardDuty BlockPublicAccess member.
BLOCK_PUBLIC_ACCESS_FLAGS: Final = {
    "BlockPublicAcls": "blockPublicAcls",
    "IgnorePublicAcls": "ignorePublicAcls",
    "BlockPublicPolicy": "blockPublicPolicy",
    "RestrictPublicBuckets": "restrictPublicBuckets",
}

# Condition keys that narrow an open principal down to known callers, networks or sources.
RESTRICTING_CONDITION_KEYS: Final = (
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpce",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
    "aws:PrincipalOrgID",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalAccount",
    "aws:PrincipalArn",
    "aws:PrincipalServiceName",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:SourceOwner",
    "aws:userid",
    "aws:username",
    "s3:DataAccessPointAccount",
    "s3:DataAccessPointArn",
)
# Operators under which such a key restricts (matched whole: ``StringNotEquals``,
# ``StringEqualsIfExists`` and ``Null`` are not among them).
RESTRICTING_OPERATORS: Final = (
    "StringEquals",
    "StringEqualsIgnoreCase",
    "StringLike",
    "ArnEquals",
    "ArnLike",
    "IpAddress",
)
WILDCARD_VALUES: Final = ("*", "0.0.0.0/0", "::/0")

ALL_USERS: Final = "acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS: Final = "acs.amazonaws.com/groups/global/AuthenticatedUsers"
ANONYMOUS_CANNED_ACLS: Final = {"public-read": (True, False), "public-read-write": (True, True)}
AUTHENTICATED_CANNED_ACL: Final = "authenticated-read"
READ_PERMISSIONS: Final = ("READ", "READ_ACP", "FULL_CONTROL")
WRITE_PERMISSIONS: Final = ("WRITE", "WRITE_ACP", "FULL_CONTROL")

# Bucket policies are at most 20 KB, so they cannot hold more statements than this.
MAX_STATEMENTS: Final = 1000

_KEYS = "|".join(re.escape(k) for k in RESTRICTING_CONDITION_KEYS)
_OPERATORS = "|".join(RESTRICTING_OPERATORS)
# A restricting operator's block (condition blocks hold no nested objects) naming a key.
_RESTRICTING = rf'(?i)"(?:ForAnyValue:)?(?:{_OPERATORS})"\s*:\s*\{{[^{{}}]*"(?:{_KEYS})"\s*:'
_WILDCARD = "|".join(re.escape(v) for v in WILDCARD_VALUES)
_WILDCARD_ONLY = rf'(?i)"(?:{_KEYS})"\s*:\s*(?:"(?:{_WILDCARD})"|\[\s*"(?:{_WILDCARD})"\s*\])'
# One element of an Action list (or the lone Action string) that reads or writes.
_READS = r'(?i)(?:^|")(?:\*|s3:\*[^"]*|s3:(?:Get|List)[^"]*)(?:"|$)'
_WRITES = r'(?i)(?:^|")(?:\*|s3:\*[^"]*|s3:(?:Put|Delete|Abort|Restore|Replicate|Create)[^"]*)(?:"|$)'

PARAMS = pl.col("request_parameters")


def _is_event(*names: str) -> pl.Expr:
    return pl.col("event_name").is_in(names)


def _calls(events: pl.DataFrame) -> pl.DataFrame:
    return events.filter(
        pl.col("event_source").is_in(S3_SOURCES),
        _is_event(*EVENTS),
        pl.col("error_code").is_null(),
        (pl.col("user_type") != "AWSService").fill_null(True),
    ).with_columns(PARAMS.str.json_path_match("$.bucketName").alias("bucket_name"))


# -- Block Public Access ---------------------------------------------------------------------


def _block_public_access_info(level: str) -> pl.Expr:
    """``publicAccess.permissionConfiguration.<level>.blockPublicAccess`` as the call left it
    (a deleted configuration blocks nothing: all four false)."""
    deleted = _is_event(ACCOUNT_DELETE, BUCKET_DELETE, BARE_DELETE)
    flags = [
        pl.when(deleted)
        .then(False)
        .otherwise(
            PARAMS.str.json_path_match(f"$.PublicAccessBlockConfiguration.{field}").str.to_lowercase()
            == "true"
        )
        .fill_null(False)
        .alias(member)
        for field, member in BLOCK_PUBLIC_ACCESS_FLAGS.items()
    ]
    block = pl.struct(pl.struct(*flags).alias("blockPublicAccess")).alias(level)
    return pl.struct(pl.struct(pl.struct(block).alias("permissionConfiguration")).alias("publicAccess"))


def _block_public_access(calls: pl.DataFrame) -> list[pl.DataFrame]:
    config = PARAMS.str.json_path_match("$.PublicAccessBlockConfiguration")
    relaxed_put = config.str.starts_with("{") & pl.any_horizontal(
        (
            PARAMS.str.json_path_match(f"$.PublicAccessBlockConfiguration.{field}").str.to_lowercase()
            != "true"
        ).fill_null(True)
        for field in BLOCK_PUBLIC_ACCESS_FLAGS
    )
    names_bucket = pl.col("bucket_name").is_not_null()
    put = _is_event(ACCOUNT_PUT, BUCKET_PUT, BARE_PUT) & relaxed_put.fill_null(False)
    delete = _is_event(ACCOUNT_DELETE, BUCKET_DELETE, BARE_DELETE)
    bucket_level = _is_event(BUCKET_PUT, BUCKET_DELETE) | (_is_event(BARE_PUT, BARE_DELETE) & names_bucket)
    relaxed = calls.filter(put | delete)
    buckets = relaxed.filter(bucket_level)
    accounts = relaxed.filter(~bucket_level)
    return [
        hits(
            buckets,
            BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED,
            key=("bucket_name", "principal_id"),
            info=_block_public_access_info("bucketLevelPermissions").struct.json_encode(),
        ),
        hits(
            accounts,
            ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
            key=("principal_id",),
            info=_block_public_access_info("accountLevelPermissions").struct.json_encode(),
        ),
    ]


# -- bucket policy ---------------------------------------------------------------------------


def _statements(policies: pl.DataFrame) -> pl.DataFrame:
    """One row per statement (``ROW``, ``slot``, ``statement`` JSON text) of each policy.

    ``Statement`` may be one object or a list; its members' types vary (``Principal`` is a
    string, an object or holds a list), so statements are taken apart with JSON paths, one
    statement position at a time across all policies, never decoded to a fixed type.
    """
    listed = pl.col("_statements")
    docs = policies.select(
        pl.col(ROW),
        pl.when(listed.str.starts_with("{"))
        .then(pl.concat_str(pl.lit("["), listed, pl.lit("]")))
        .otherwise(listed)
        .alias("_statements"),
    ).drop_nulls("_statements")
    slots: list[pl.DataFrame] = []
    for slot in range(MAX_STATEMENTS):
        found = docs.select(
            pl.col(ROW),
            pl.lit(slot, dtype=pl.Int32).alias("slot"),
            listed.str.json_path_match(f"$[{slot}]").alias("statement"),
        ).drop_nulls("statement")
        if found.is_empty():
            break
        slots.append(found)
        docs = docs.filter(pl.col(ROW).is_in(found[ROW].implode()))
    schema = {ROW: pl.UInt32, "slot": pl.Int32, "statement": pl.String}
    return pl.concat(slots) if slots else pl.DataFrame(schema=schema)


def _policy_grants(calls: pl.DataFrame) -> pl.DataFrame:
    """Per ``PutBucketPolicy`` row: whether it opens the bucket to anyone, for reading or
    writing, and which statement does (the first open one)."""
    policy = PARAMS.str.json_path_match("$.bucketPolicy")  # an object, or the policy as a JSON string
    policies = calls.filter(_is_event(PUT_POLICY)).select(
        pl.col(ROW), policy.str.json_path_match("$.Statement").alias("_statements")
    )
    statement = pl.col("statement")
    principal = statement.str.json_path_match("$.Principal")
    aws = principal.str.json_path_match("$.AWS")
    not_principal = statement.str.json_path_match("$.NotPrincipal")
    anyone = (
        (principal == "*") | (aws == "*") | aws.str.contains(r'^\[.*"\*".*\]$') | not_principal.is_not_null()
    )
    condition = statement.str.json_path_match("$.Condition")
    restricted = condition.str.contains(_RESTRICTING) & ~condition.str.contains(_WILDCARD_ONLY)
    action = statement.str.json_path_match("$.Action")
    not_action = statement.str.json_path_match("$.NotAction")
    open_ = (
        (statement.str.json_path_match("$.Effect") == "Allow")
        & anyone.fill_null(False)
        & ~restricted.fill_null(False)
    ).fill_null(False)
    reads = (action.str.contains(_READS).fill_null(False) | not_action.is_not_null()) & open_
    writes = (action.str.contains(_WRITES).fill_null(False) | not_action.is_not_null()) & open_
    grant = pl.format(
        "policy statement '{}' {} {}",
        statement.str.json_path_match("$.Sid").fill_null(pl.format("#{}", pl.col("slot") + 1)),
        pl.when(not_principal.is_not_null())
        .then(pl.format("NotPrincipal {}", not_principal))
        .otherwise(pl.format("Principal {}", principal)),
        pl.coalesce(action, pl.format("NotAction {}", not_action), pl.lit("(no action)")),
    )
    judged = _statements(policies).with_columns(
        open_.alias("open"), reads.alias("reads"), writes.alias("writes"), grant.alias("grant")
    )
    return (
        judged.sort(ROW, "slot")
        .group_by(ROW, maintain_order=True)
        .agg(
            pl.col("open").any().alias("policy_open"),
            pl.col("reads").any().alias("policy_reads"),
            pl.col("writes").any().alias("policy_writes"),
            pl.col("grant").filter(pl.col("open")).first().alias("policy_grant"),
        )
    )


# -- ACL -------------------------------------------------------------------------------------


def _acl_grants(group: str, permissions: tuple[str, ...]) -> pl.Expr:
    """The ACL grants ``group`` one of ``permissions``: in the body's ``Grant`` objects
    (either member order) or in an ``x-amz-grant-*`` header."""
    perms = "|".join(permissions)
    headers = "|".join(p.lower().replace("_", "-") for p in permissions)
    grantee = rf'"Grantee"\s*:\s*\{{[^{{}}]*{re.escape(group)}[^{{}}]*\}}'
    permission = rf'"Permission"\s*:\s*"(?:{perms})"'
    header = rf'"x-amz-grant-(?:{headers})"\s*:\s*\[?\s*"(?:[^"\\]|\\.)*{re.escape(group)}'
    pattern = rf"{grantee}\s*,\s*{permission}|{permission}\s*,\s*{grantee}|{header}"
    return PARAMS.str.contains(pattern).fill_null(False)


def _canned_acl() -> pl.Expr:
    canned = pl.coalesce(
        PARAMS.str.json_path_match("$['x-amz-acl'][0]"), PARAMS.str.json_path_match("$['x-amz-acl']")
    )
    return canned.str.strip_chars().str.to_lowercase()


def _access_words(reads: pl.Expr, writes: pl.Expr) -> pl.Expr:
    return (
        pl.when(reads & writes)
        .then(pl.lit("read and write"))
        .when(writes)
        .then(pl.lit("write"))
        .when(reads)
        .then(pl.lit("read"))
        .otherwise(pl.lit("access"))
    )


def _public_access_info(kind: str, reads: pl.Expr, writes: pl.Expr, grant: pl.Expr) -> pl.Expr:
    """``{"publicAccess": {...}}``: GuardDuty's ``PublicAccess`` shape with the grant that opened
    the bucket (``kind`` is ``bucketPolicy`` or ``accessControlList``)."""
    allows = pl.struct(reads.alias("allowsPublicReadAccess"), writes.alias("allowsPublicWriteAccess"))
    config = pl.struct(pl.struct(allows.alias(kind)).alias("bucketLevelPermissions"))
    public = pl.struct(
        pl.lit("PUBLIC").alias("effectivePermission"),
        config.alias("permissionConfiguration"),
        grant.alias("grant"),
    )
    return pl.struct(public.alias("publicAccess")).struct.json_encode()


def _granted(calls: pl.DataFrame) -> list[pl.DataFrame]:
    changes = calls.filter(_is_event(PUT_POLICY, PUT_ACL)).join(_policy_grants(calls), on=ROW, how="left")
    canned = _canned_acl()
    acl = _is_event(PUT_ACL)
    anonymous_canned = canned.is_in(list(ANONYMOUS_CANNED_ACLS)).fill_null(False)
    anon_reads = anonymous_canned | _acl_grants(ALL_USERS, READ_PERMISSIONS)
    anon_writes = (canned == "public-read-write").fill_null(False) | _acl_grants(ALL_USERS, WRITE_PERMISSIONS)
    anon_acl = anonymous_canned | PARAMS.str.contains(ALL_USERS, literal=True).fill_null(False)
    auth_canned = (canned == AUTHENTICATED_CANNED_ACL).fill_null(False)
    auth_reads = auth_canned | _acl_grants(AUTHENTICATED_USERS, READ_PERMISSIONS)
    auth_writes = _acl_grants(AUTHENTICATED_USERS, WRITE_PERMISSIONS)
    auth_acl = auth_canned | PARAMS.str.contains(AUTHENTICATED_USERS, literal=True).fill_null(False)

    policy_open = pl.col("policy_open").fill_null(False)
    policy_info = _public_access_info(
        "bucketPolicy",
        pl.col("policy_reads").fill_null(False),
        pl.col("policy_writes").fill_null(False),
        pl.col("policy_grant"),
    )
    anon_grant = (
        pl.when(anonymous_canned)
        .then(pl.format("canned ACL {}", canned))
        .otherwise(pl.format("ACL grant of {} to group AllUsers", _access_words(anon_reads, anon_writes)))
    )
    auth_grant = (
        pl.when(auth_canned)
        .then(pl.format("canned ACL {}", canned))
        .otherwise(
            pl.format("ACL grant of {} to group AuthenticatedUsers", _access_words(auth_reads, auth_writes))
        )
    )
    anonymous = (acl & anon_acl) | (~acl & policy_open)
    authenticated = acl & auth_acl & ~anon_acl
    anonymous_info = (
        pl.when(acl)
        .then(_public_access_info("accessControlList", anon_reads, anon_writes, anon_grant))
        .otherwise(policy_info)
    )
    authenticated_info = _public_access_info("accessControlList", auth_reads, auth_writes, auth_grant)
    key = ("bucket_name", "principal_id")
    return [
        hits(changes.filter(anonymous), BUCKET_ANONYMOUS_ACCESS_GRANTED, key=key, info=anonymous_info),
        hits(changes.filter(authenticated), BUCKET_PUBLIC_ACCESS_GRANTED, key=key, info=authenticated_info),
    ]


@detectors.register(
    "s3.public_access",
    source="cloudtrail",
    emits=(
        ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
        BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED,
        BUCKET_ANONYMOUS_ACCESS_GRANTED,
        BUCKET_PUBLIC_ACCESS_GRANTED,
    ),
    prefilter=pl.col("event_source").is_in(S3_SOURCES) & pl.col("event_name").is_in(EVENTS),
)
def public_access(events: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = _calls(events)
    return pl.concat([*_block_public_access(calls), *_granted(calls)])
