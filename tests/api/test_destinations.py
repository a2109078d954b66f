"""Publishing destinations through boto3 against a real ``keibi serve``: create, describe, update,
delete and list; the ARNs GuardDuty refuses, one destination per detector, tags, and nothing
visible to other accounts."""

from __future__ import annotations

from typing import Any

import pytest

from keibi.api.arns import child_arn
from tests.api.server import KeibiServer

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
BUCKET = "arn:aws:s3:::findings-bucket/guardduty"


def _setup(api: KeibiServer) -> tuple[Any, str, str]:
    key = api.account()
    gd = api.client(key)
    return gd, gd.create_detector(Enable=True)["DetectorId"], key.account_id


def _message(err: pytest.ExceptionInfo[Any]) -> str:
    return str(err.value.response["Error"]["Message"])


def test_create_describe_update_delete(api: KeibiServer) -> None:
    gd, did, account = _setup(api)
    assert gd.list_publishing_destinations(DetectorId=did)["Destinations"] == []
    made = gd.create_publishing_destination(
        DetectorId=did,
        DestinationType="S3",
        DestinationProperties={"DestinationArn": BUCKET, "KmsKeyArn": KEY},
        Tags={"team": "secops"},
    )
    dest = made["DestinationId"]
    assert len(dest) == 32 and int(dest, 16) >= 0
    described = gd.describe_publishing_destination(DetectorId=did, DestinationId=dest)
    described.pop("ResponseMetadata")
    assert described == {
        "DestinationId": dest,
        "DestinationType": "S3",
        "Status": "PENDING_VERIFICATION",  # keibi does not export yet
        "PublishingFailureStartTimestamp": 0,
        "DestinationProperties": {"DestinationArn": BUCKET, "KmsKeyArn": KEY},
        "Tags": {"team": "secops"},
    }
    listed = gd.list_publishing_destinations(DetectorId=did)["Destinations"]
    assert listed == [{"DestinationId": dest, "DestinationType": "S3", "Status": "PENDING_VERIFICATION"}]

    other_key = KEY.replace("1234abcd-", "5678abcd-")
    gd.update_publishing_destination(
        DetectorId=did, DestinationId=dest, DestinationProperties={"KmsKeyArn": other_key}
    )
    props = gd.describe_publishing_destination(DetectorId=did, DestinationId=dest)["DestinationProperties"]
    assert props == {"DestinationArn": BUCKET, "KmsKeyArn": other_key}

    arn = child_arn("us-east-1", account, did, "publishingDestination", dest)
    assert gd.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "secops"}
    gd.delete_publishing_destination(DetectorId=did, DestinationId=dest)
    assert gd.list_publishing_destinations(DetectorId=did)["Destinations"] == []
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.describe_publishing_destination(DetectorId=did, DestinationId=dest)
    assert _message(err) == "The request is rejected since no such resource found."
    with pytest.raises(gd.exceptions.BadRequestException):
        gd.list_tags_for_resource(ResourceArn=arn)


def test_one_destination_per_detector(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    props = {"DestinationArn": BUCKET, "KmsKeyArn": KEY}
    first = gd.create_publishing_destination(
        DetectorId=did, DestinationType="S3", DestinationProperties=props
    )
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_publishing_destination(DetectorId=did, DestinationType="S3", DestinationProperties=props)
    assert "beyond the current AWS account limits" in _message(err)
    assert "at most one publishing destination" in _message(err)
    gd.delete_publishing_destination(DetectorId=did, DestinationId=first["DestinationId"])
    gd.create_publishing_destination(DetectorId=did, DestinationType="S3", DestinationProperties=props)


@pytest.mark.parametrize(
    ("props", "wrong"),
    [
        ({"DestinationArn": "s3://findings-bucket", "KmsKeyArn": KEY}, "destinationArn"),
        ({"DestinationArn": "arn:aws:sqs:us-east-1:111122223333:q", "KmsKeyArn": KEY}, "destinationArn"),
        ({"KmsKeyArn": KEY}, "destinationArn"),
        ({"DestinationArn": BUCKET}, "kmsKeyArn"),
        ({"DestinationArn": BUCKET, "KmsKeyArn": "alias/guardduty"}, "kmsKeyArn"),
        (
            {"DestinationArn": BUCKET, "KmsKeyArn": KEY, "ExpectedBucketOwner": "111122223333"},
            "expectedBucketOwner",
        ),
    ],
)
def test_refused_properties(api: KeibiServer, props: dict[str, str], wrong: str) -> None:
    gd, did, _ = _setup(api)
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.create_publishing_destination(DetectorId=did, DestinationType="S3", DestinationProperties=props)
    assert wrong in _message(err)
    assert gd.list_publishing_destinations(DetectorId=did)["Destinations"] == []


def test_update_checks_and_unknown_ids(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    dest = gd.create_publishing_destination(
        DetectorId=did,
        DestinationType="S3",
        DestinationProperties={"DestinationArn": BUCKET, "KmsKeyArn": KEY},
    )["DestinationId"]
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.update_publishing_destination(
            DetectorId=did, DestinationId=dest, DestinationProperties={"DestinationArn": "arn:aws:s3:::X"}
        )
    assert "destinationArn" in _message(err)
    gd.update_publishing_destination(
        DetectorId=did,
        DestinationId=dest,
        DestinationProperties={"DestinationArn": "arn:aws:s3:::other-bucket"},
    )
    described = gd.describe_publishing_destination(DetectorId=did, DestinationId=dest)
    assert described["DestinationProperties"] == {
        "DestinationArn": "arn:aws:s3:::other-bucket",
        "KmsKeyArn": KEY,
    }
    with pytest.raises(gd.exceptions.BadRequestException) as err:
        gd.update_publishing_destination(DetectorId=did, DestinationId="0" * 32, DestinationProperties={})
    assert _message(err) == "The request is rejected since no such resource found."


def test_other_accounts_see_nothing(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    dest = gd.create_publishing_destination(
        DetectorId=did,
        DestinationType="S3",
        DestinationProperties={"DestinationArn": BUCKET, "KmsKeyArn": KEY},
    )["DestinationId"]
    intruder, own, _ = _setup(api)
    with pytest.raises(intruder.exceptions.BadRequestException) as err:
        intruder.describe_publishing_destination(DetectorId=did, DestinationId=dest)
    assert "not owned by the current account" in _message(err)
    with pytest.raises(intruder.exceptions.BadRequestException) as err:
        intruder.describe_publishing_destination(DetectorId=own, DestinationId=dest)
    assert _message(err) == "The request is rejected since no such resource found."
    with pytest.raises(intruder.exceptions.BadRequestException):
        intruder.delete_publishing_destination(DetectorId=own, DestinationId=dest)
    assert gd.describe_publishing_destination(DetectorId=did, DestinationId=dest)["DestinationId"] == dest


def test_pagination(api: KeibiServer) -> None:
    gd, did, _ = _setup(api)
    gd.create_publishing_destination(
        DetectorId=did,
        DestinationType="S3",
        DestinationProperties={"DestinationArn": BUCKET, "KmsKeyArn": KEY},
    )
    first = gd.list_publishing_destinations(DetectorId=did, MaxResults=1)
    assert len(first["Destinations"]) == 1 and "NextToken" not in first
