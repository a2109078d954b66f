"""``resource``: what the finding is about, from the latest evidence record.

keibi has no inventory of the account, so it fills only what the logs say: access key and
identity from CloudTrail's ``userIdentity``, the instance and network interface a flow or
DNS query names, the bucket a request names. Unknown values are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from keibi.detect.types import ResourceType
from keibi.findings.actions import clean
from keibi.sources.schema import SourceName


def user_name(row: Mapping[str, Any]) -> str | None:
    """GuardDuty's ``userName``: ``Root`` for root, the role for an assumed role, else the user."""
    kind = row.get("user_type")
    if kind == "Root":
        return "Root"
    if kind == "AssumedRole":
        return row.get("session_issuer_user_name") or row.get("user_name")
    return row.get("user_name")


def access_key_details(row: Mapping[str, Any]) -> dict[str, Any]:
    return clean(
        {
            "accessKeyId": row.get("access_key_id"),
            "principalId": row.get("principal_id"),
            "userName": user_name(row),
            "userType": row.get("user_type"),
        }
    )


def instance_details(row: Mapping[str, Any], source: SourceName) -> dict[str, Any]:
    """The instance, or just its network interface when the log names no instance (flow v2)."""
    if source == "vpc_flow":
        eni = clean(
            {
                "networkInterfaceId": row.get("interface_id"),
                "privateIpAddress": row.get("local_ip"),
                "subnetId": row.get("subnet_id"),
                "vpcId": row.get("vpc_id"),
            }
        )
    else:
        eni = clean({"privateIpAddress": row.get("srcaddr"), "vpcId": row.get("vpc_id")})
    details: dict[str, Any] = clean({"instanceId": row.get("instance_id")})
    if eni:
        details["networkInterfaces"] = [eni]
    return details


_BLOCK_PUBLIC_ACCESS: Final = (
    "ignorePublicAcls",
    "restrictPublicBuckets",
    "blockPublicAcls",
    "blockPublicPolicy",
)
_ALLOWS: Final = ("allowsPublicReadAccess", "allowsPublicWriteAccess")
# GuardDuty's PublicAccess shape: which members a hit's ``info["publicAccess"]`` may fill.
PUBLIC_ACCESS_SHAPE: Final[dict[str, Any]] = {
    "effectivePermission": str,
    "permissionConfiguration": {
        "bucketLevelPermissions": {
            "accessControlList": dict.fromkeys(_ALLOWS, bool),
            "bucketPolicy": dict.fromkeys(_ALLOWS, bool),
            "blockPublicAccess": dict.fromkeys(_BLOCK_PUBLIC_ACCESS, bool),
        },
        "accountLevelPermissions": {"blockPublicAccess": dict.fromkeys(_BLOCK_PUBLIC_ACCESS, bool)},
    },
}


def _pick(value: Any, shape: Any) -> Any:
    """``value`` cut down to ``shape`` (nested dicts of member → type): unknown members,
    wrong types and empty objects are dropped, so detector explanations (``grant``) stay in
    ``additionalInfo`` and the resource keeps GuardDuty's shape."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return None
        picked = {k: _pick(value.get(k), sub) for k, sub in shape.items()}
        return {k: v for k, v in picked.items() if v is not None} or None
    return value if isinstance(value, shape) else None


def public_access(info: Mapping[str, Any]) -> dict[str, Any] | None:
    """``publicAccess`` of an ``S3BucketDetail`` from a hit's ``info["publicAccess"]``."""
    found = _pick(info.get("publicAccess"), PUBLIC_ACCESS_SHAPE)
    return found if isinstance(found, dict) else None


def s3_bucket_details(
    bucket: str,
    partition: str,
    *,
    owner_id: str | None = None,
    info: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The bucket a request names, as the call's ``Destination``; ``owner.id`` (the owner's
    canonical user id) only when the request shows it, ``publicAccess`` when the hit says."""
    detail = clean(
        {
            "arn": f"arn:{partition}:s3:::{bucket}",
            "name": bucket,
            "type": "Destination",
            "owner": {"id": owner_id} if owner_id else None,
            "publicAccess": public_access(info or {}),
        }
    )
    return [detail]


def resource(
    kind: ResourceType,
    row: Mapping[str, Any],
    source: SourceName,
    partition: str,
    info: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``resource`` of type ``kind`` (``FindingType.resource_type``) for a record of ``source``;
    ``info`` is the hit's, for what only the detector knows (a bucket's ``publicAccess``)."""
    out: dict[str, Any] = {"resourceType": kind}
    if source == "cloudtrail" and kind in ("AccessKey", "S3Bucket"):
        keys = access_key_details(row)
        if keys:
            out["accessKeyDetails"] = keys
        bucket = row.get("bucket_name")
        if kind == "S3Bucket" and isinstance(bucket, str) and bucket:
            out["s3BucketDetails"] = s3_bucket_details(
                bucket, partition, owner_id=row.get("bucket_owner_id"), info=info
            )
    elif source in ("vpc_flow", "dns") and kind == "Instance":
        details = instance_details(row, source)
        if details:
            out["instanceDetails"] = details
    return out


def resource_id(kind: ResourceType, row: Mapping[str, Any], source: SourceName) -> str | None:
    """The one identifier titles name: instance (else ENI, else source address), access key
    (else principal), or bucket."""
    if kind == "Instance":
        return row.get("instance_id") or row.get("interface_id") or row.get("srcaddr")
    if kind == "S3Bucket":
        return row.get("bucket_name") or row.get("access_key_id") or row.get("principal_id")
    return row.get("access_key_id") or row.get("principal_id") or user_name(row)
