"""validate() against botocore's GuardDuty Finding shape: accepts built findings, rejects broken ones."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from keibi.findings import validate
from tests.findings._batches import record


@pytest.fixture
def finding() -> dict[str, Any]:
    return copy.deepcopy(record(count=3).finding)


def test_a_built_finding_is_valid(finding: dict[str, Any]) -> None:
    validate(finding)


def test_optional_nested_members_by_their_json_names(finding: dict[str, Any]) -> None:
    finding["resource"]["instanceDetails"] = {
        "productCodes": [{"productCodeId": "abc", "productCodeType": "marketplace"}],
        "tags": [{"key": "env", "value": "prod"}],
        "launchTime": "2026-01-01T00:00:00Z",
    }
    finding["resource"]["s3BucketDetails"] = [{"name": "b", "createdAt": 1767225600, "owner": {"id": "x"}}]
    finding["service"]["action"]["awsApiCallAction"]["affectedResources"] = {"AWS::S3::Bucket": "b"}
    finding["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["geoLocation"] = {
        "lat": 1,
        "lon": 2.5,
    }
    validate(finding)


def _set(finding: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = finding
    for part in parents:
        node = node[part]
    node[last] = value


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("severity", "8", r"\$\.severity: expected a number, got str"),
        ("severity", True, r"\$\.severity: expected a number, got bool"),
        ("service.count", 2.5, r"\$\.service\.count: expected an integer, got float"),
        ("service.archived", "false", r"\$\.service\.archived: expected a boolean"),
        ("createdAt", 1767225600, r"\$\.createdAt: expected a string, got int"),
        (
            "service.action.awsApiCallAction.apiName",
            "x",
            r"\$\.service\.action\.awsApiCallAction: unknown member 'apiName'",
        ),
        ("resource.AccessKeyDetails", {}, r"\$\.resource: unknown member 'AccessKeyDetails'"),
        (
            "service.evidence",
            {"threatIntelligenceDetails": {"threatListName": "x"}},
            r"threatIntelligenceDetails: expected a list",
        ),
        (
            "service.action.awsApiCallAction.affectedResources",
            {"k": 1},
            r"affectedResources\.k: expected a string",
        ),
        ("resource.resourceType", None, r"\$\.resource\.resourceType: expected a string, got NoneType"),
    ],
)
def test_broken_findings_are_rejected_with_their_path(
    finding: dict[str, Any], path: str, value: Any, message: str
) -> None:
    _set(finding, path, value)
    with pytest.raises(ValueError, match=message):
        validate(finding)


def test_missing_required_member(finding: dict[str, Any]) -> None:
    del finding["arn"]
    with pytest.raises(ValueError, match=r"^\$: missing required member arn$"):
        validate(finding)


def test_product_code_uses_serialized_names(finding: dict[str, Any]) -> None:
    finding["resource"]["instanceDetails"] = {"productCodes": [{"code": "abc"}]}
    with pytest.raises(ValueError, match=r"productCodes\[0\]: unknown member 'code'"):
        validate(finding)


def test_nested_timestamps_are_epoch_numbers(finding: dict[str, Any]) -> None:
    finding["resource"]["s3BucketDetails"] = [{"name": "b", "createdAt": "2026-01-01T00:00:00Z"}]
    with pytest.raises(ValueError, match=r"s3BucketDetails\[0\]\.createdAt: expected a timestamp"):
        validate(finding)


def test_not_an_object() -> None:
    with pytest.raises(ValueError, match=r"^\$: expected an object, got list$"):
        validate([])  # type: ignore[arg-type]
