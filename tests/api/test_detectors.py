"""Detectors through boto3 against a real ``keibi serve``: one per account and region, features,
tags, and nothing visible to other accounts or regions."""

from __future__ import annotations

import pytest

from keibi.findings.build import detector_id
from tests.api.server import KeibiServer


def test_create_get_update_delete(api: KeibiServer) -> None:
    key = api.account()
    gd = api.client(key)
    assert gd.list_detectors()["DetectorIds"] == []

    did = gd.create_detector(
        Enable=True, FindingPublishingFrequency="FIFTEEN_MINUTES", Tags={"team": "secops"}
    )["DetectorId"]
    assert did == detector_id(key.account_id, "us-east-1")
    assert gd.list_detectors()["DetectorIds"] == [did]

    got = gd.get_detector(DetectorId=did)
    assert got["Status"] == "ENABLED"
    assert got["FindingPublishingFrequency"] == "FIFTEEN_MINUTES"
    assert got["Tags"] == {"team": "secops"}
    features = {f["Name"]: f["Status"] for f in got["Features"]}
    assert features == {
        "CLOUD_TRAIL": "ENABLED",
        "DNS_LOGS": "ENABLED",
        "FLOW_LOGS": "ENABLED",
        "S3_DATA_EVENTS": "ENABLED",
    }
    assert got["DataSources"]["S3Logs"]["Status"] == "ENABLED"

    gd.update_detector(
        DetectorId=did,
        Enable=False,
        FindingPublishingFrequency="ONE_HOUR",
        Features=[{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}],
    )
    got = gd.get_detector(DetectorId=did)
    assert (got["Status"], got["FindingPublishingFrequency"]) == ("DISABLED", "ONE_HOUR")
    assert {f["Name"]: f["Status"] for f in got["Features"]}["S3_DATA_EVENTS"] == "DISABLED"
    assert got["DataSources"]["S3Logs"]["Status"] == "DISABLED"

    gd.delete_detector(DetectorId=did)
    assert gd.list_detectors()["DetectorIds"] == []
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.get_detector(DetectorId=did)


def test_one_detector_per_account_and_region(api: KeibiServer) -> None:
    key = api.account()
    east, west = api.client(key, "us-east-1"), api.client(key, "eu-west-1")
    east.create_detector(Enable=True)
    with pytest.raises(east.exceptions.BadRequestException) as err:
        east.create_detector(Enable=True)
    assert "already exists" in err.value.response["Error"]["Message"]
    west_id = west.create_detector(Enable=True)["DetectorId"]
    assert west_id == detector_id(key.account_id, "eu-west-1")
    assert east.list_detectors()["DetectorIds"] == [detector_id(key.account_id, "us-east-1")]
    # The eu-west-1 detector does not exist for a us-east-1 request.
    with pytest.raises(east.exceptions.BadRequestException):
        east.get_detector(DetectorId=west_id)


def test_other_accounts_cannot_see_or_change_a_detector(api: KeibiServer) -> None:
    owner, other = api.client(api.account()), api.client(api.account())
    did = owner.create_detector(Enable=True)["DetectorId"]
    for call in (
        lambda: other.get_detector(DetectorId=did),
        lambda: other.update_detector(DetectorId=did, Enable=False),
        lambda: other.delete_detector(DetectorId=did),
        lambda: other.list_findings(DetectorId=did),
    ):
        with pytest.raises(other.exceptions.BadRequestException) as err:
            call()
        assert "not owned by the current account" in err.value.response["Error"]["Message"]
    assert owner.get_detector(DetectorId=did)["Status"] == "ENABLED"
    # A made-up id gets the same answer as a real one of another account.
    with pytest.raises(other.exceptions.BadRequestException) as err:
        other.get_detector(DetectorId="0" * 32)
    assert "not owned by the current account" in err.value.response["Error"]["Message"]


def test_unsupported_features_and_operations_are_refused(api: KeibiServer) -> None:
    gd = api.client(api.account())
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_detector(Enable=True, Features=[{"Name": "EKS_AUDIT_LOGS", "Status": "ENABLED"}])
    assert "EKS_AUDIT_LOGS is not supported by keibi" in err.value.response["Error"]["Message"]
    did = gd.create_detector(Enable=True)["DetectorId"]
    for call in (
        lambda: gd.describe_malware_scans(DetectorId=did),
        lambda: gd.list_coverage(DetectorId=did),
        lambda: gd.get_malware_scan_settings(DetectorId=did),
        lambda: gd.list_organization_admin_accounts(),
    ):
        with pytest.raises(gd.exceptions.BadRequestException) as err:
            call()
        assert "not supported by keibi" in err.value.response["Error"]["Message"]


def test_tags(api: KeibiServer) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    arn = f"arn:aws:guardduty:us-east-1:{key.account_id}:detector/{did}"
    gd.tag_resource(ResourceArn=arn, Tags={"env": "prod", "team": "secops"})
    gd.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod"}
    other = api.client(api.account())
    with pytest.raises(other.exceptions.BadRequestException):
        other.list_tags_for_resource(ResourceArn=arn)
    with pytest.raises(other.exceptions.BadRequestException):
        other.tag_resource(ResourceArn=arn, Tags={"x": "y"})
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod"}


def test_validation_errors_are_guardduty_shaped(api: KeibiServer) -> None:
    gd = api.client(api.account())
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_detector(Enable=True, FindingPublishingFrequency="EVERY_SECOND")  # type: ignore[arg-type]
    error = err.value.response["Error"]
    assert error["Code"] == "BadRequestException"
    assert "enum value set" in error["Message"]
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err.value.response["Type"] == "InvalidInputException"
