"""CloudTrail for a month, built column-wise: a frame of calls becomes CloudTrail's JSON records.

``tester.cloudtrail.Trail`` builds one dict per record, which is right for a two-hour run but
slow for a month of a few hundred thousand records. Here a call is a row of
:data:`CALL_SCHEMA`; its ``userIdentity`` comes from a per-principal template (``who`` names
it; ``@@KEY@@`` and ``@@SINCE@@`` are filled per row with the session's access key and
creation time) and every record is assembled with Polars string expressions, in CloudTrail's
own key order. Free-form parts (``request``, ``response``, ``resources``, ``extra`` for
``additionalEventData``) are JSON text, as the sessions and scenarios write them.

``write_trail`` delivers the records as CloudTrail does: one ``{"Records": [...]}`` file per
region per five-minute delivery, in the ``AWSLogs/<account>/CloudTrail/<region>/...`` layout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from keibi.tester.delivery import DELIVERY_SECONDS, write_gz
from keibi.tester.history_world import GLOBAL_REGION, HistoryWorld
from keibi.tester.vec import Vec, frame_of

GLOBAL_SOURCES: Final = ("iam.amazonaws.com", "sts.amazonaws.com", "signin.amazonaws.com")
HEX: Final = "0123456789abcdef"
ALNUM: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
BASE64: Final = ALNUM + "+/"
UPPER_DIGITS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

CALL_SCHEMA: Final = pl.Schema(
    {
        "t": pl.Int64(),
        "region": pl.String(),  # null: the home region (global services: us-east-1)
        "tag": pl.String(),
        "who": pl.String(),  # key of an identity template
        "key": pl.String(),  # access key id filled into the template (null: none)
        "since": pl.Int64(),  # session creation time filled into the template
        "source": pl.String(),
        "name": pl.String(),
        "ip": pl.String(),
        "ua": pl.String(),
        "read_only": pl.Boolean(),
        "request": pl.String(),  # JSON text or null
        "response": pl.String(),
        "resources": pl.String(),
        "extra": pl.String(),  # additionalEventData, JSON text
        "event_type": pl.String(),  # null: AwsApiCall
        "error": pl.String(),  # errorCode (with a generic errorMessage)
        "vpce": pl.String(),
        "category": pl.String(),  # null: Management
    }
)


def calls(**columns: object) -> pl.DataFrame:
    """A frame of calls: scalars broadcast, lists and Series taken as they are (``CALL_SCHEMA``)."""
    return frame_of(CALL_SCHEMA, columns)


def dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def iso_expr(epoch: pl.Expr) -> pl.Expr:
    return pl.from_epoch(epoch, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def tokens(vec: Vec, n: int, length: int, alphabet: str) -> pl.Series:
    """``n`` random strings of ``length`` characters of ``alphabet`` (at most 64 characters)."""
    size = len(alphabet)
    per_draw = max(1, int(63.9 // (size.bit_length() - (1 if size & (size - 1) == 0 else 0))))
    chars = pl.Series(list(alphabet))
    parts: list[pl.Series] = []
    while len(parts) < length:
        bits = vec.bits(n)
        for _ in range(min(per_draw, length - len(parts))):
            parts.append(chars.gather((bits % size).cast(pl.UInt32)))
            bits = bits // size
    return pl.DataFrame({f"c{i}": p for i, p in enumerate(parts)}).select(
        pl.concat_str(pl.all()).alias("token")
    )["token"]


def uuids(vec: Vec, n: int) -> pl.Series:
    """``n`` random version-4 UUIDs."""
    raw = pl.DataFrame({"h": tokens(vec, n, 32, HEX), "v": tokens(vec, n, 1, "89ab")})
    h = pl.col("h").str
    return raw.select(
        pl.concat_str(
            h.slice(0, 8),
            pl.lit("-"),
            h.slice(8, 4),
            pl.lit("-4"),
            h.slice(13, 3),
            pl.lit("-"),
            pl.col("v"),
            h.slice(17, 3),
            pl.lit("-"),
            h.slice(20, 12),
        ).alias("u")
    )["u"]


# --- identities -----------------------------------------------------------------------------------


def user_identity(world: HistoryWorld, name: str, principal_id: str, *, console: bool = False) -> str:
    """An IAM user; ``console``: signed in to the console (temporary key, MFA in the context)."""
    ident: dict[str, Any] = {
        "type": "IAMUser",
        "principalId": principal_id,
        "arn": world.arn("user", name),
        "accountId": world.account_id,
        "accessKeyId": "@@KEY@@",
        "userName": name,
    }
    if console:
        ident["sessionContext"] = {
            "sessionIssuer": {},
            "webIdFederationData": {},
            "attributes": {"creationDate": "@@SINCE@@", "mfaAuthenticated": "true"},
        }
    return dumps(ident)


def role_identity(
    world: HistoryWorld,
    role: str,
    session: str,
    *,
    ec2: bool = False,
    invoked_by: str | None = None,
    mfa: bool = False,
) -> str:
    """A session ``session`` of role ``role`` (``ec2``: instance credentials; ``invoked_by``: an
    AWS service acting with the role, e.g. CloudFormation)."""
    role_id = world.roles[role]
    path = "aws-reserved/sso.amazonaws.com/eu-west-2/" if role.startswith("AWSReservedSSO_") else ""
    if role.startswith("AWSServiceRole"):
        path = f"aws-service-role/{_service_of(role)}/"
    ident: dict[str, Any] = {
        "type": "AssumedRole",
        "principalId": f"{role_id}:{session}",
        "arn": f"arn:aws:sts::{world.account_id}:assumed-role/{role}/{session}",
        "accountId": world.account_id,
        "accessKeyId": "@@KEY@@",
        "sessionContext": {
            "sessionIssuer": {
                "type": "Role",
                "principalId": role_id,
                "arn": f"arn:aws:iam::{world.account_id}:role/{path}{role}",
                "accountId": world.account_id,
                "userName": role,
            },
            "webIdFederationData": {},
            "attributes": {"creationDate": "@@SINCE@@", "mfaAuthenticated": "true" if mfa else "false"},
        },
    }
    if ec2:
        ident["sessionContext"]["ec2RoleDelivery"] = "2.0"
    if invoked_by is not None:
        ident["invokedBy"] = invoked_by
    return dumps(ident)


def _service_of(role: str) -> str:
    return {
        "AWSServiceRoleForConfig": "config.amazonaws.com",
        "AWSServiceRoleForAutoScaling": "autoscaling.amazonaws.com",
        "AWSServiceRoleForECS": "ecs.amazonaws.com",
    }[role]


def service_identity(service: str) -> str:
    return dumps({"type": "AWSService", "invokedBy": service})


def web_identity(world: HistoryWorld, provider: str, subject: str) -> str:
    """The caller of ``AssumeRoleWithWebIdentity``: an OIDC subject (a CI workflow)."""
    return dumps(
        {
            "type": "WebIdentityUser",
            "principalId": f"arn:aws:iam::{world.account_id}:oidc-provider/{provider}:sts.amazonaws.com:{subject}",
            "userName": subject,
            "identityProvider": f"arn:aws:iam::{world.account_id}:oidc-provider/{provider}",
        }
    )


# --- S3 data events -------------------------------------------------------------------------------


def s3_columns(region: str, account: str) -> list[pl.Expr]:
    """``request``, ``resources``, ``extra`` and ``category`` of S3 data events, from the columns
    ``bucket``, ``object`` (null for ``ListObjects``, whose prefix is ``prefix``) and ``size``."""
    bucket, obj = pl.col("bucket"), pl.col("object")
    host = pl.concat_str(bucket, pl.lit(f".s3.{region}.amazonaws.com"))
    listing = obj.is_null()
    request = (
        pl.when(listing)
        .then(
            pl.concat_str(
                pl.lit('{"list-type":"2","bucketName":"'),
                bucket,
                pl.lit('","encoding-type":"url","prefix":"'),
                pl.col("prefix").fill_null(""),
                pl.lit('","delimiter":"/","Host":"'),
                host,
                pl.lit('"}'),
            )
        )
        .otherwise(
            pl.concat_str(
                pl.lit('{"bucketName":"'),
                bucket,
                pl.lit('","Host":"'),
                host,
                pl.when(pl.col("name").str.ends_with("Acl"))
                .then(pl.lit('","acl":"","x-amz-acl":"'))
                .otherwise(pl.lit("")),
                pl.when(pl.col("name") == "PutObjectAcl").then(pl.lit("public-read")).otherwise(pl.lit("")),
                pl.lit('","key":"'),
                obj,
                pl.lit('"}'),
            )
        )
    )
    arn = pl.concat_str(pl.lit("arn:aws:s3:::"), bucket)
    objects = (
        pl.when(listing)
        .then(
            pl.concat_str(
                pl.lit('{"type":"AWS::S3::Object","ARNPrefix":"'),
                arn,
                pl.lit("/"),
                pl.col("prefix").fill_null(""),
            )
        )
        .otherwise(pl.concat_str(pl.lit('{"type":"AWS::S3::Object","ARN":"'), arn, pl.lit("/"), obj))
    )
    resources = pl.concat_str(
        pl.lit("["),
        objects,
        pl.lit(f'"}},{{"accountId":"{account}","type":"AWS::S3::Bucket","ARN":"'),
        arn,
        pl.lit('"}]'),
    )
    writes = pl.col("name") == "PutObject"
    size = pl.col("size").fill_null(0).cast(pl.String)
    extra = pl.concat_str(
        pl.lit('{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":'),
        pl.when(writes).then(size).otherwise(pl.lit("0")),
        pl.lit(',"AuthenticationMethod":"AuthHeader","x-amz-id-2":"'),
        pl.col("amz_id"),
        pl.lit('","bytesTransferredOut":'),
        pl.when(writes | pl.col("name").str.starts_with("Delete")).then(pl.lit("0")).otherwise(size),
        pl.lit("}"),
    )
    return [
        request.alias("request"),
        pl.when(writes)
        .then(pl.lit('{"x-amz-server-side-encryption":"AES256"}'))
        .otherwise(None)
        .alias("response"),
        resources.alias("resources"),
        extra.alias("extra"),
        pl.lit("Data").alias("category"),
        pl.concat_str(pl.lit("["), pl.col("ua"), pl.lit("]")).alias("ua"),
        pl.lit("s3.amazonaws.com").alias("source"),
        pl.col("name").str.contains("^(Get|List|Head)").alias("read_only"),
    ]


def s3_data(vec: Vec, frame: pl.DataFrame, region: str, account: str) -> pl.DataFrame:
    """Calls (``CALL_SCHEMA``) for S3 data events described by ``frame``: the call columns plus
    ``bucket``, ``object``, ``prefix`` and ``size`` (see :func:`s3_columns`)."""
    frame = frame.with_columns(amz_id=tokens(vec, frame.height, 76, BASE64))
    return (
        frame.with_columns(s3_columns(region, account))
        .select(
            [
                pl.col(c) if c in frame.columns or c in _S3_SET else pl.lit(None, d).alias(c)
                for c, d in CALL_SCHEMA.items()
            ]
        )
        .cast(CALL_SCHEMA)
    )


_S3_SET: Final = frozenset(
    {"request", "response", "resources", "extra", "category", "ua", "source", "read_only"}
)


# --- records and delivery -------------------------------------------------------------------------


def _optional(cond: pl.Expr, *parts: pl.Expr) -> pl.Expr:
    """The concatenated ``parts`` where ``cond`` holds, else nothing (an optional JSON member)."""
    return pl.when(cond).then(pl.concat_str(*parts)).otherwise(pl.lit(""))


def _host(region: pl.Expr) -> pl.Expr:
    service = pl.col("source").str.split(".").list.first()
    return (
        pl.when(pl.col("source").is_in(GLOBAL_SOURCES) | (service == "s3"))
        .then(pl.col("source"))
        .otherwise(pl.concat_str(service, pl.lit("."), region, pl.lit(".amazonaws.com")))
    )


def records(
    vec: Vec, frame: pl.DataFrame, identities: Mapping[str, str], world: HistoryWorld, home: str
) -> pl.DataFrame:
    """``frame`` (``CALL_SCHEMA``) as CloudTrail JSON text (column ``json``) with ``t``, ``region``, ``tag``."""
    templates = pl.DataFrame({"who": list(identities), "identity": list(identities.values())})
    missing = set(frame["who"].unique().to_list()) - set(identities)
    if missing:
        raise KeyError(f"no identity template for {sorted(missing)}")
    n = frame.height
    f = frame.join(templates, on="who", how="left").with_columns(
        event_id=uuids(vec, n),
        request_uuid=uuids(vec, n),
        request_token=tokens(vec, n, 16, ALNUM[:26] + ALNUM[52:]),
    )
    region = (
        pl.when(pl.col("source").is_in(GLOBAL_SOURCES))
        .then(pl.lit(GLOBAL_REGION))
        .otherwise(pl.col("region").fill_null(home))
    )
    f = f.with_columns(region.alias("region"))
    identity = pl.col("identity").str.replace("@@KEY@@", pl.col("key").fill_null(""), literal=True)
    identity = identity.str.replace(
        "@@SINCE@@", iso_expr(pl.col("since").fill_null(pl.col("t"))), literal=True
    )
    identity = identity.str.replace(',"accessKeyId":""', "", literal=True)
    event_type = pl.col("event_type").fill_null("AwsApiCall")
    category = pl.col("category").fill_null("Management")
    service = pl.col("ip").str.ends_with(".amazonaws.com")
    version = (
        pl.when(category == "Data")
        .then(pl.lit("1.10"))
        .when(service)
        .then(pl.lit("1.08"))
        .otherwise(pl.lit("1.09"))
    )
    request_id = (
        pl.when(pl.col("source") == "s3.amazonaws.com")
        .then(pl.col("request_token"))
        .otherwise(pl.col("request_uuid"))
    )
    tls = pl.concat_str(
        pl.lit(
            ',"tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"'
        ),
        pl.when(pl.col("event_type") == "AwsConsoleSignIn")
        .then(pl.lit("signin.aws.amazon.com"))
        .otherwise(_host(pl.col("region"))),
        pl.lit('"}'),
    )
    json = pl.concat_str(
        pl.lit('{"eventVersion":"'),
        version,
        pl.lit('","userIdentity":'),
        identity,
        pl.lit(',"eventTime":"'),
        iso_expr(pl.col("t")),
        pl.lit('","eventSource":"'),
        pl.col("source"),
        pl.lit('","eventName":"'),
        pl.col("name"),
        pl.lit('","awsRegion":"'),
        pl.col("region"),
        pl.lit('","sourceIPAddress":"'),
        pl.col("ip"),
        pl.lit('","userAgent":"'),
        pl.col("ua"),
        pl.lit('"'),
        _optional(
            pl.col("error").is_not_null(),
            pl.lit(',"errorCode":"'),
            pl.col("error"),
            pl.lit('","errorMessage":"'),
            pl.col("error"),
            pl.lit(': the request was denied"'),
        ),
        pl.lit(',"requestParameters":'),
        pl.col("request").fill_null("null"),
        pl.lit(',"responseElements":'),
        pl.when(pl.col("error").is_null())
        .then(pl.col("response").fill_null("null"))
        .otherwise(pl.lit("null")),
        _optional(pl.col("extra").is_not_null(), pl.lit(',"additionalEventData":'), pl.col("extra")),
        _optional(event_type == "AwsApiCall", pl.lit(',"requestID":"'), request_id, pl.lit('"')),
        pl.lit(',"eventID":"'),
        pl.col("event_id"),
        pl.lit('","readOnly":'),
        pl.when(pl.col("read_only")).then(pl.lit("true")).otherwise(pl.lit("false")),
        _optional(pl.col("resources").is_not_null(), pl.lit(',"resources":'), pl.col("resources")),
        pl.lit(',"eventType":"'),
        event_type,
        pl.lit('","managementEvent":'),
        pl.when(category == "Data").then(pl.lit("false")).otherwise(pl.lit("true")),
        pl.lit(f',"recipientAccountId":"{world.account_id}"'),
        _optional(
            pl.col("vpce").is_not_null(),
            pl.lit(',"vpcEndpointId":"'),
            pl.col("vpce"),
            pl.lit(f'","vpcEndpointAccountId":"{world.account_id}"'),
        ),
        pl.when(service).then(pl.lit(',"sharedEventID":"')).otherwise(pl.lit("")),
        pl.when(service).then(pl.col("request_uuid")).otherwise(pl.lit("")),
        pl.when(service).then(pl.lit('"')).otherwise(pl.lit("")),
        pl.lit(',"eventCategory":"'),
        category,
        pl.lit('"'),
        pl.when(service).then(pl.lit("")).otherwise(tls),
        pl.lit("}"),
    )
    return f.select("t", "region", "tag", json.alias("json"))


def write_trail(
    outdir: Path,
    recs: pl.DataFrame,
    *,
    account: str,
    vec: Vec,
    level: int,
    delivery: int = DELIVERY_SECONDS,
    max_records: int = 5000,
) -> dict[str, set[str]]:
    """Deliver ``recs`` (from :func:`records`): one file per region per delivery (every
    ``delivery`` seconds, split past ``max_records``), records in event-time order; return tag → files."""
    ordered = recs.sort("region", "t", maintain_order=True).with_columns(
        ((pl.col("t") // delivery + 1) * delivery).alias("delivery")
    )
    ordered = ordered.with_columns(
        (pl.int_range(pl.len()).over("region", "delivery") // max_records).alias("part")
    )
    files = ordered.group_by("region", "delivery", "part", maintain_order=True).agg(
        pl.col("json").str.join(","), pl.col("tag").unique().alias("tags")
    )
    files = files.with_columns(
        suffix=tokens(vec, files.height, 16, ALNUM),
        stamp=pl.from_epoch("delivery", time_unit="s").dt.strftime("%Y/%m/%d|%Y%m%dT%H%MZ"),
    )
    tag_files: dict[str, set[str]] = {}
    for region, stamp, suffix, body, tags in files.select(
        "region", "stamp", "suffix", "json", "tags"
    ).iter_rows():
        day, when = stamp.split("|")
        rel = Path(
            "AWSLogs",
            account,
            "CloudTrail",
            region,
            day,
            f"{account}_CloudTrail_{region}_{when}_{suffix}.json.gz",
        )
        write_gz(outdir, rel, b'{"Records":[' + body.encode() + b"]}", level)
        for tag in tags:
            tag_files.setdefault(tag, set()).add(rel.as_posix())
    return tag_files
