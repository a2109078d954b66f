"""Publishing destinations in the store: ARN checks, one per detector, the status an exporter
reports and when a failure started; on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from keibi.store import Store
from keibi.store.destinations import (
    DestinationQuotaExceeded,
    DestinationRecord,
    bucket_and_prefix,
    create_destination,
    delete_destination,
    get_destination,
    is_kms_key_arn,
    list_destinations,
    set_destination_status,
    update_destination,
)
from keibi.store.detectors import create_detector
from keibi.store.tags import resource_tags
from tests.findings._batches import NOW, REGION

KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _detector(store: Store, account: str = "111122223333") -> str:
    made = create_detector(store, account, REGION, enabled=True, frequency="SIX_HOURS", features=[], now=NOW)
    assert made is not None
    return made.detector_id


def _create(store: Store, did: str, **extra: object) -> DestinationRecord:
    destination_id = uuid.uuid4().hex
    return create_destination(
        store,
        did,
        destination_id=destination_id,
        destination_arn="arn:aws:s3:::findings-bucket",
        kms_key_arn=KEY,
        now=NOW,
        arn=f"arn:aws:guardduty:{REGION}:111122223333:detector/{did}/publishingDestination/{destination_id}",
        **extra,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        ("arn:aws:s3:::findings-bucket", ("findings-bucket", "")),
        ("arn:aws:s3:::findings.bucket/guardduty/exports", ("findings.bucket", "guardduty/exports")),
        ("arn:aws-us-gov:s3:::gov-bucket/x", ("gov-bucket", "x")),
        ("arn:aws:s3:::Upper-Case", None),
        ("arn:aws:s3:::ab", None),
        ("arn:aws:s3:::bad..dots", None),
        ("arn:aws:s3:::bucket/", None),
        ("arn:aws:sns:us-east-1:111122223333:topic", None),
        ("s3://findings-bucket", None),
    ],
)
def test_bucket_and_prefix(arn: str, expected: tuple[str, str] | None) -> None:
    assert bucket_and_prefix(arn) == expected


def test_kms_key_arns() -> None:
    assert is_kms_key_arn(KEY)
    assert is_kms_key_arn("arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab")
    assert not is_kms_key_arn("arn:aws:kms:us-east-1:111122223333:alias/guardduty")
    assert not is_kms_key_arn("arn:aws:kms:us-east-1:1111:key/1234")
    assert not is_kms_key_arn("1234abcd-12ab-34cd-56ef-1234567890ab")


def test_one_destination_per_detector(store: Store) -> None:
    did, other = _detector(store), _detector(store, "444455556666")
    made = _create(store, did, tags_={"team": "secops"})
    assert (made.status, made.destination_type, made.failure_started_at) == (
        "PENDING_VERIFICATION",
        "S3",
        None,
    )
    with pytest.raises(DestinationQuotaExceeded):
        _create(store, did)
    _create(store, other)
    assert [d.destination_id for d in list_destinations(store, did)] == [made.destination_id]
    arn = (
        f"arn:aws:guardduty:{REGION}:111122223333:detector/{did}/publishingDestination/{made.destination_id}"
    )
    assert resource_tags(store, arn) == {"team": "secops"}
    assert not delete_destination(store, other, made.destination_id, arn)  # not the other detector's
    assert delete_destination(store, did, made.destination_id, arn)
    assert (get_destination(store, did, made.destination_id), resource_tags(store, arn)) == (None, {})
    _create(store, did)  # room again


def test_status_from_the_exporter_and_updates(store: Store) -> None:
    did = _detector(store)
    made = _create(store, did)
    failing_since = NOW + timedelta(hours=1)
    assert set_destination_status(
        store, made.destination_id, "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY", failing_since
    )
    # Still failing an hour later: the failure keeps the time it started.
    set_destination_status(
        store,
        made.destination_id,
        "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY",
        failing_since + timedelta(hours=1),
    )
    found = get_destination(store, did, made.destination_id)
    assert found is not None and found.failure_started_at == failing_since
    # The same properties again change nothing; new ones need verifying again.
    same = update_destination(
        store, did, made.destination_id, now=NOW, destination_arn="arn:aws:s3:::findings-bucket"
    )
    assert same is not None and same.status == "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"
    moved = update_destination(
        store, did, made.destination_id, now=failing_since, destination_arn="arn:aws:s3:::other-bucket/gd"
    )
    assert moved is not None
    assert (moved.status, moved.destination_arn, moved.kms_key_arn, moved.failure_started_at) == (
        "PENDING_VERIFICATION",
        "arn:aws:s3:::other-bucket/gd",
        KEY,
        None,
    )
    assert update_destination(store, did, uuid.uuid4().hex, now=NOW, kms_key_arn=KEY) is None
    assert not set_destination_status(store, uuid.uuid4().hex, "PUBLISHING", NOW)
