"""A finding's JSON → the columns of its ``findings`` and ``finding_resources`` rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import orjson


def _time(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resource_ids(resource: Mapping[str, Any]) -> list[str]:
    """Every identifier of the resource, most specific first: bucket names (for an
    ``S3Bucket``), instance, ENIs, access key, principal, user name."""
    found: list[Any] = []
    buckets = [b.get("name") for b in resource.get("s3BucketDetails", []) if isinstance(b, dict)]
    if resource.get("resourceType") == "S3Bucket":
        found += buckets
    instance = resource.get("instanceDetails", {})
    found.append(instance.get("instanceId"))
    found += [
        eni.get("networkInterfaceId")
        for eni in instance.get("networkInterfaces", [])
        if isinstance(eni, dict)
    ]
    keys = resource.get("accessKeyDetails", {})
    found += [keys.get("accessKeyId"), keys.get("principalId"), keys.get("userName")]
    found += buckets
    return list(dict.fromkeys(str(v) for v in found if v))


def finding_row(finding: Mapping[str, Any]) -> dict[str, Any]:
    """The ``findings`` row of ``finding`` (``data`` is the JSON itself)."""
    service = finding.get("service", {})
    resource = finding.get("resource", {})
    ids = resource_ids(resource)
    return {
        "id": finding["id"],
        "account_id": finding.get("accountId", ""),
        "region": finding.get("region", ""),
        "type": finding["type"],
        "severity": float(finding.get("severity", 0.0)),
        "resource_type": resource.get("resourceType"),
        "resource_id": ids[0] if ids else None,
        "created_at": _time(finding.get("createdAt")),
        "updated_at": _time(finding.get("updatedAt")),
        "event_first_seen": _time(service.get("eventFirstSeen")),
        "event_last_seen": _time(service.get("eventLastSeen")),
        "archived": bool(service.get("archived", False)),
        "count": int(service.get("count", 1)),
        "data": orjson.dumps(dict(finding)).decode(),
    }
