"""AWS_API_CALL findings filled as GuardDuty fills them: affected bucket, the bucket's
``publicAccess`` and owner, the caller's account; all checked against botocore's shape."""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from keibi.detect import DetectContext, hits
from keibi.detect.s3.public_access import (
    ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
    BUCKET_ANONYMOUS_ACCESS_GRANTED,
    BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED,
    public_access,
)
from keibi.findings import FindingRecord, build_findings, decode_info, validate
from tests.findings._batches import ACCOUNT, BUCKET_CALL, NOW, ROOT_CALL, TYPES, batch, trail_row

S3_TYPES = {
    **TYPES,
    **{
        t.type: t
        for t in (
            ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED,
            BUCKET_ANONYMOUS_ACCESS_GRANTED,
            BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED,
        )
    },
}
OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
ALL_USERS = {
    "xsi:type": "Group",
    "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
    "URI": "http://acs.amazonaws.com/groups/global/AllUsers",
}


def s3_call(minutes: int, event_name: str, params: dict[str, Any] | None, **fields: Any) -> dict[str, Any]:
    return trail_row(
        minutes,
        event_source="s3.amazonaws.com",
        event_name=event_name,
        user_type="IAMUser",
        user_name="mallory",
        principal_id="AIDAEXAMPLEMALLORY01",
        access_key_id="AKIAEXAMPLEMALLORY1",
        request_parameters=None if params is None else json.dumps(params),
        **fields,
    )


def built(found: pl.DataFrame, frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    records: list[FindingRecord] = build_findings(found, frame, "cloudtrail", S3_TYPES, now=NOW)
    for r in records:
        validate(r.finding)
    return {r.finding["type"]: r.finding for r in records}


def test_public_bucket_acl_finding_names_bucket_owner_and_public_access() -> None:
    acl = {
        "bucketName": "press-kit",
        "Host": "press-kit.s3.us-east-1.amazonaws.com",
        "acl": "",
        "AccessControlPolicy": {
            "AccessControlList": {
                "Grant": [
                    {"Grantee": {"xsi:type": "CanonicalUser", "ID": OWNER}, "Permission": "FULL_CONTROL"},
                    {"Grantee": ALL_USERS, "Permission": "READ"},
                ]
            },
            "Owner": {"ID": OWNER},
        },
    }
    frame = batch("cloudtrail", [s3_call(0, "PutBucketAcl", acl)])
    f = built(public_access(frame, DetectContext()), frame)[BUCKET_ANONYMOUS_ACCESS_GRANTED.type]
    assert f["resource"]["s3BucketDetails"] == [
        {
            "arn": "arn:aws:s3:::press-kit",
            "name": "press-kit",
            "type": "Destination",
            "owner": {"id": OWNER},
            "publicAccess": {
                "effectivePermission": "PUBLIC",
                "permissionConfiguration": {
                    "bucketLevelPermissions": {
                        "accessControlList": {
                            "allowsPublicReadAccess": True,
                            "allowsPublicWriteAccess": False,
                        }
                    }
                },
            },
        }
    ]
    call = f["service"]["action"]["awsApiCallAction"]
    assert call["affectedResources"] == {"AWS::S3::Bucket": "press-kit"}
    assert call["api"] == "PutBucketAcl" and call["serviceName"] == "s3.amazonaws.com"
    # the explanation stays in additionalInfo, beside GuardDuty's shape
    assert decode_info(f)["publicAccess"]["grant"] == "ACL grant of read to group AllUsers"
    assert f["severity"] == 8.0
    assert f["title"] == "Amazon S3 bucket press-kit was made accessible to anyone on the internet."


def test_policy_and_block_public_access_findings() -> None:
    statement = {"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    frame = batch(
        "cloudtrail",
        [
            s3_call(0, "PutBucketPolicy", {"bucketName": "site", "bucketPolicy": {"Statement": [statement]}}),
            s3_call(1, "DeleteBucketPublicAccessBlock", {"bucketName": "site", "publicAccessBlock": ""}),
            s3_call(2, "DeleteAccountPublicAccessBlock", {"x-amz-account-id": ACCOUNT}),
        ],
    )
    findings = built(public_access(frame, DetectContext()), frame)
    policy = findings[BUCKET_ANONYMOUS_ACCESS_GRANTED.type]["resource"]["s3BucketDetails"][0]
    assert "owner" not in policy  # a policy does not show the owner's canonical id
    assert policy["publicAccess"]["permissionConfiguration"] == {
        "bucketLevelPermissions": {
            "bucketPolicy": {"allowsPublicReadAccess": True, "allowsPublicWriteAccess": False}
        }
    }
    block = findings[BUCKET_BLOCK_PUBLIC_ACCESS_DISABLED.type]["resource"]["s3BucketDetails"][0]
    assert block["publicAccess"] == {
        "permissionConfiguration": {
            "bucketLevelPermissions": {
                "blockPublicAccess": {
                    "ignorePublicAcls": False,
                    "restrictPublicBuckets": False,
                    "blockPublicAcls": False,
                    "blockPublicPolicy": False,
                }
            }
        }
    }
    account = findings[ACCOUNT_BLOCK_PUBLIC_ACCESS_DISABLED.type]
    assert account["resource"] == {
        "resourceType": "S3Bucket",
        "accessKeyDetails": {
            "accessKeyId": "AKIAEXAMPLEMALLORY1",
            "principalId": "AIDAEXAMPLEMALLORY01",
            "userName": "mallory",
            "userType": "IAMUser",
        },
    }
    assert account["service"]["action"]["awsApiCallAction"]["affectedResources"] == {}
    assert account["title"] == f"Amazon S3 Block Public Access was disabled for account {ACCOUNT}."


def test_remote_account_details_come_from_the_hit_info() -> None:
    frame = batch("cloudtrail", [trail_row(0), trail_row(1, principal_id="other")])
    found = pl.concat(
        [
            hits(
                frame.head(1),
                ROOT_CALL,
                key=("principal_id",),
                info=pl.lit('{"remoteAccountId": "444455556666", "affiliated": false}'),
            ),
            hits(
                frame.tail(1),
                ROOT_CALL,
                key=("principal_id",),
                info=pl.lit('{"remoteAccountId": {"odd": 1}, "affiliated": "yes"}'),
            ),
        ]
    )
    records = build_findings(found, frame, "cloudtrail", S3_TYPES, now=NOW)
    for r in records:
        validate(r.finding)
    calls = {
        r.finding["resource"]["accessKeyDetails"]["principalId"]: r.finding["service"]["action"][
            "awsApiCallAction"
        ]
        for r in records
    }
    assert calls[ACCOUNT]["remoteAccountDetails"] == {"accountId": "444455556666", "affiliated": False}
    assert "remoteAccountDetails" not in calls["other"]  # an id that is not one is left out


def test_odd_public_access_info_is_cut_to_guardduty_shape() -> None:
    frame = batch("cloudtrail", [s3_call(0, "GetObject", {"bucketName": "payroll"})])
    info = {
        "publicAccess": {
            "effectivePermission": "PUBLIC",
            "permissionConfiguration": {
                "bucketLevelPermissions": {"bucketPolicy": {"allowsPublicReadAccess": "yes"}},
                "accountLevelPermissions": {"blockPublicAccess": {"blockPublicAcls": True, "extra": 1}},
                "somethingElse": {},
            },
            "grant": "explained elsewhere",
        }
    }
    found = hits(frame, BUCKET_CALL, key=("principal_id",), info=pl.lit(json.dumps(info)))
    (f,) = built(found, frame).values()
    assert f["resource"]["s3BucketDetails"][0]["publicAccess"] == {
        "effectivePermission": "PUBLIC",
        "permissionConfiguration": {
            "accountLevelPermissions": {"blockPublicAccess": {"blockPublicAcls": True}}
        },
    }


def test_extra_and_missing_detail_columns_do_not_break() -> None:
    frame = batch("cloudtrail", [s3_call(0, "GetObject", {"bucketName": "payroll"})])
    with_ranges = frame.with_columns(
        pl.lit("us-east-1").alias("remote_aws_region"), pl.lit("EC2").alias("remote_aws_service")
    )
    bare = frame.drop("user_agent", "error_code", "session_issuer_user_name")
    found = hits(frame, BUCKET_CALL, key=("principal_id",))
    (plain,) = built(found, frame).values()
    (ranged,) = built(found, with_ranges).values()
    (stripped,) = built(found, bare).values()
    assert ranged == plain  # nothing invented from the ip-ranges match
    call = stripped["service"]["action"]["awsApiCallAction"]
    assert "userAgent" not in call and call["remoteIpDetails"] == {"ipAddressV4": "203.0.113.9"}
