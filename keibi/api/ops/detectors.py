"""CreateDetector, GetDetector, UpdateDetector, DeleteDetector, ListDetectors.

keibi analyses CloudTrail management events, S3 data events, VPC flow logs and DNS logs; those
features are on unless switched off. The features keibi has no data for (EKS audit logs,
runtime monitoring, malware scans, RDS and Lambda logs) are refused when asked to be enabled,
with one clear line, rather than reported enabled while nothing would watch them.
"""

from __future__ import annotations

from typing import Any, Final

from keibi.api.arns import detector_arn
from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.ops.paging import page
from keibi.api.protocol import bad_request
from keibi.store.detectors import (
    DetectorRecord,
    create_detector,
    delete_detector,
    detector_for,
    update_detector,
)
from keibi.store.members import administrator_of
from keibi.store.tags import resource_tags, tag_resource

SUPPORTED: Final = ("CLOUD_TRAIL", "DNS_LOGS", "FLOW_LOGS", "S3_DATA_EVENTS")
DEFAULT_FREQUENCY: Final = "SIX_HOURS"


def _epoch(call: Call) -> float:
    return call.now.timestamp()


def _features(
    call: Call, current: list[dict[str, Any]] | None, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """The detector's features after applying ``features`` and the older ``dataSources``."""
    status = {f["name"]: f["status"] for f in current or []}
    if not status:
        status = dict.fromkeys(SUPPORTED, "ENABLED")
    asked: dict[str, str] = {}
    sources = params.get("dataSources") or {}
    if "s3Logs" in sources:
        asked["S3_DATA_EVENTS"] = "ENABLED" if sources["s3Logs"].get("enable") else "DISABLED"
    if (sources.get("kubernetes") or {}).get("auditLogs", {}).get("enable"):
        asked["EKS_AUDIT_LOGS"] = "ENABLED"
    if (sources.get("malwareProtection") or {}).get("scanEc2InstanceWithFindings", {}).get("ebsVolumes"):
        asked["EBS_MALWARE_PROTECTION"] = "ENABLED"
    for feature in params.get("features") or []:
        asked[feature["name"]] = feature.get("status", "ENABLED")
    for name, value in asked.items():
        if name not in SUPPORTED and value == "ENABLED":
            raise bad_request(
                f"The feature {name} is not supported by keibi, which analyses {', '.join(SUPPORTED)}."
            )
        if name in SUPPORTED:
            status[name] = value
    before = {f["name"]: f for f in current or []}
    out = []
    for name in SUPPORTED:
        old = before.get(name)
        since = old["updatedAt"] if old is not None and old["status"] == status[name] else _epoch(call)
        out.append({"name": name, "status": status[name], "updatedAt": since})
    return out


def _data_sources(features: list[dict[str, Any]]) -> dict[str, Any]:
    """The older ``dataSources`` view of the same settings (GetDetector still returns it)."""
    on = {f["name"]: f["status"] for f in features}
    return {
        "cloudTrail": {"status": on.get("CLOUD_TRAIL", "ENABLED")},
        "dnsLogs": {"status": on.get("DNS_LOGS", "ENABLED")},
        "flowLogs": {"status": on.get("FLOW_LOGS", "ENABLED")},
        "s3Logs": {"status": on.get("S3_DATA_EVENTS", "ENABLED")},
        "kubernetes": {"auditLogs": {"status": "DISABLED"}},
        "malwareProtection": {
            "scanEc2InstanceWithFindings": {"ebsVolumes": {"status": "DISABLED"}},
            "serviceRole": "",
        },
    }


def _arn(detector: DetectorRecord) -> str:
    return detector_arn(detector.region, detector.account_id, detector.detector_id)


@operation("CreateDetector")
def create(call: Call) -> dict[str, Any]:
    features = _features(call, None, call.params)
    created = create_detector(
        call.store,
        call.account_id,
        call.region,
        enabled=bool(call.params["enable"]),
        frequency=call.params.get("findingPublishingFrequency") or DEFAULT_FREQUENCY,
        features=features,
        now=call.now,
    )
    if created is None:
        raise bad_request(
            "The request is rejected because a detector already exists for the current account."
        )
    tag_resource(call.store, _arn(created), call.params.get("tags") or {})
    return {"detectorId": created.detector_id}


@operation("GetDetector")
def get(call: Call) -> dict[str, Any]:
    detector = call.detector()
    return {
        "createdAt": detector.created_at.isoformat().replace("+00:00", "Z"),
        "findingPublishingFrequency": detector.finding_publishing_frequency,
        "serviceRole": f"arn:aws:iam::{detector.account_id}:role/aws-service-role/guardduty.amazonaws.com/AWSServiceRoleForAmazonGuardDuty",
        "status": detector.status,
        "updatedAt": detector.updated_at.isoformat().replace("+00:00", "Z"),
        "dataSources": _data_sources(detector.features),
        "features": detector.features,
        "tags": resource_tags(call.store, _arn(detector)),
    }


@operation("UpdateDetector")
def update(call: Call) -> dict[str, Any]:
    detector = call.detector()
    touches = "features" in call.params or "dataSources" in call.params
    enable = call.params.get("enable")
    update_detector(
        call.store,
        detector.detector_id,
        enabled=None if enable is None else bool(enable),
        frequency=call.params.get("findingPublishingFrequency"),
        features=_features(call, detector.features, call.params) if touches else None,
        now=call.now,
    )
    return {}


@operation("DeleteDetector")
def delete(call: Call) -> dict[str, Any]:
    detector = call.detector()
    if administrator_of(call.store, call.account_id, call.region) is not None:
        raise bad_request(
            "The request is rejected because the account is a member of an administrator account; "
            "disassociate from it first (DisassociateFromAdministratorAccount)."
        )
    delete_detector(call.store, detector.detector_id, _arn(detector))
    return {}


@operation("ListDetectors")
def list_detectors(call: Call) -> dict[str, Any]:
    found = detector_for(call.store, call.account_id, call.region)
    ids = [] if found is None else [found.detector_id]
    items, token = page(call, ids)
    return {"detectorIds": items, **({"nextToken": token} if token else {})}
