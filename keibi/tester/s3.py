"""S3 calls as CloudTrail records them: bucket configuration and object access.

Bucket configuration (``PutBucketPolicy``, ``PutBucketAcl``, ``PutBucketLogging``, the public
access blocks) is a management event; object reads, writes and listings are data events
(``eventCategory`` ``Data``, ``managementEvent`` false). S3 logs both with ``bucketName`` and
``Host`` in ``requestParameters``, the bucket (and object) ARNs in ``resources``, the
transferred bytes in ``additionalEventData``, and its user agent in brackets.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final

from keibi.tester.cloudtrail import Trail
from keibi.tester.world import World

XMLNS: Final = "http://s3.amazonaws.com/doc/2006-03-01/"
S3_CONTROL_XMLNS: Final = "http://awss3control.amazonaws.com/doc/2018-08-20/"
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
ALL_USERS: Final = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS: Final = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY: Final = "http://acs.amazonaws.com/groups/s3/LogDelivery"
S3: Final = "s3.amazonaws.com"

_READS: Final = ("Get", "List", "Head")


def s3_ua(ua: str) -> str:
    """S3 writes the caller's user agent in square brackets."""
    return f"[{ua}]"


def host(world: World, bucket: str) -> str:
    return f"{bucket}.s3.{world.region}.amazonaws.com"


def canonical_id(world: World) -> str:
    """The account's canonical user id (64 hex digits), fixed per account."""
    return hashlib.sha256(f"canonical:{world.account_id}".encode()).hexdigest()


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def bucket_resource(world: World, bucket: str) -> dict[str, Any]:
    return {"accountId": world.account_id, "type": "AWS::S3::Bucket", "ARN": bucket_arn(bucket)}


def public_access_block(value: bool, xmlns: str = XMLNS) -> dict[str, Any]:
    return {
        "xmlns": xmlns,
        "RestrictPublicBuckets": value,
        "BlockPublicPolicy": value,
        "BlockPublicAcls": value,
        "IgnorePublicAcls": value,
    }


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def group_grant(uri: str, permission: str) -> dict[str, Any]:
    return {"Grantee": {"xsi:type": "Group", "xmlns:xsi": XSI, "URI": uri}, "Permission": permission}


def acl(world: World, *grants: dict[str, Any]) -> dict[str, Any]:
    """``PutBucketAcl``'s body: the owner keeps FULL_CONTROL, plus ``grants``."""
    owner = canonical_id(world)
    own = {
        "Grantee": {"xsi:type": "CanonicalUser", "xmlns:xsi": XSI, "ID": owner},
        "Permission": "FULL_CONTROL",
    }
    return {
        "AccessControlList": {"Grant": [own, *grants]},
        "xmlns": XMLNS,
        "Owner": {"ID": owner},
    }


def bucket_call(
    trail: Trail,
    t: float,
    identity: dict[str, Any],
    name: str,
    bucket: str,
    *,
    tag: str,
    ip: str,
    ua: str,
    params: dict[str, Any] | None = None,
    error: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """A bucket-level management call (``PutBucketPolicy``, ``DeleteBucketPublicAccessBlock``…)."""
    w = trail.world
    request = {**(params or {}), "bucketName": bucket, "Host": host(w, bucket)}
    body = sum(len(str(v)) for v in (params or {}).values())
    return trail.call(
        t,
        identity,
        S3,
        name,
        tag=tag,
        ip=ip,
        ua=s3_ua(ua),
        read_only=name.startswith(_READS),
        request=request,
        error=error,
        resources=[bucket_resource(w, bucket)],
        transferred=(body, 0),
    )


def account_public_access_block(
    trail: Trail, t: float, identity: dict[str, Any], value: bool, *, tag: str, ip: str, ua: str
) -> dict[str, Any]:
    """S3 Control's account-level ``PutPublicAccessBlock``, logged as ``PutAccountPublicAccessBlock``."""
    w = trail.world
    return trail.call(
        t,
        identity,
        S3,
        "PutAccountPublicAccessBlock",
        tag=tag,
        ip=ip,
        ua=s3_ua(ua),
        read_only=False,
        request={
            "PublicAccessBlockConfiguration": public_access_block(value, S3_CONTROL_XMLNS),
            "Host": f"{w.account_id}.s3-control.{w.region}.amazonaws.com",
        },
        transferred=(254, 0),
    )


def object_call(
    trail: Trail,
    t: float,
    identity: dict[str, Any],
    name: str,
    bucket: str,
    key: str | None,
    *,
    tag: str,
    ip: str,
    ua: str,
    size: int = 0,
    vpc_endpoint: tuple[str, str] | None = None,
    version: str = "1.10",
    prefix: str = "",
) -> dict[str, Any]:
    """A data event: ``GetObject``, ``PutObject``, ``DeleteObject``, ``GetObjectAcl`` on
    ``key``, or ``ListObjects`` (``key`` None; CloudTrail logs ListObjectsV2 under this name)."""
    w = trail.world
    request: dict[str, Any] = {"bucketName": bucket, "Host": host(w, bucket)}
    response: dict[str, Any] | None = None
    transferred = (0, size)
    if key is None:
        request = {
            "list-type": "2",
            "bucketName": bucket,
            "encoding-type": "url",
            "prefix": prefix,
            "delimiter": "/",
            "Host": host(w, bucket),
        }
        objects: dict[str, Any] = {"type": "AWS::S3::Object", "ARNPrefix": f"{bucket_arn(bucket)}/{prefix}"}
    else:
        if name.endswith("Acl"):
            request["acl"] = ""
        request["key"] = key
        objects = {"type": "AWS::S3::Object", "ARN": f"{bucket_arn(bucket)}/{key}"}
        if name == "PutObject":
            response = {"x-amz-server-side-encryption": "AES256"}
            transferred = (size, 0)
    return trail.call(
        t,
        identity,
        S3,
        name,
        tag=tag,
        ip=ip,
        ua=s3_ua(ua),
        read_only=name.startswith(_READS),
        request=request,
        response=response,
        resources=[objects, bucket_resource(w, bucket)],
        data_event=True,
        version=version,
        vpc_endpoint=vpc_endpoint,
        transferred=transferred,
    )
