"""CreatePublishingDestination, DescribePublishingDestination, UpdatePublishingDestination,
DeletePublishingDestination, ListPublishingDestinations.

The configuration only (``keibi.store.destinations``): keibi does not export findings yet, so a
destination shows ``PENDING_VERIFICATION`` until an exporter has written to it, never a
``PUBLISHING`` that would not be true. ``publishingFailureStartTimestamp`` (epoch milliseconds)
is 0 unless publishing is failing. A detector has one destination, an S3 bucket ARN (with an
optional prefix) and the KMS key to encrypt with, both required as GuardDuty requires them.
``expectedBucketOwner`` is refused with one clear line: the store keeps no column for it yet.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from keibi.api.arns import child_arn
from keibi.api.call import Call
from keibi.api.ops import operation
from keibi.api.ops.paging import page
from keibi.api.protocol import bad_request
from keibi.store.destinations import (
    DestinationQuotaExceeded,
    DestinationRecord,
    bucket_and_prefix,
    create_destination,
    delete_destination,
    get_destination,
    is_kms_key_arn,
    list_destinations,
    update_destination,
)
from keibi.store.detectors import DetectorRecord
from keibi.store.tags import resource_tags

NOT_FOUND: Final = "The request is rejected since no such resource found."
QUOTA: Final = (
    "The request is rejected because it's an attempt to create resources beyond the current AWS account "
    "limits: a detector has at most one publishing destination."
)
BAD_DESTINATION: Final = (
    "The request is rejected because the parameter destinationArn has an invalid value: expected the ARN "
    "of an S3 bucket, optionally with a prefix, such as arn:aws:s3:::bucket-name/prefix."
)
BAD_KEY: Final = (
    "The request is rejected because the parameter kmsKeyArn has an invalid value: expected the ARN of a "
    "KMS key, such as arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab."
)
NO_OWNER_CHECK: Final = (
    "The request is rejected because keibi does not support expectedBucketOwner for publishing "
    "destinations yet; leave it out."
)


def _arn(detector: DetectorRecord, destination_id: str) -> str:
    return child_arn(
        detector.region, detector.account_id, detector.detector_id, "publishingDestination", destination_id
    )


def _properties(call: Call, *, required: bool) -> tuple[str | None, str | None]:
    """(destinationArn, kmsKeyArn) of the call, each checked; ``None`` where absent and not ``required``."""
    props = call.params.get("destinationProperties") or {}
    if props.get("expectedBucketOwner") is not None:
        raise bad_request(NO_OWNER_CHECK)
    destination, key = props.get("destinationArn"), props.get("kmsKeyArn")
    if (destination is not None or required) and bucket_and_prefix(str(destination or "")) is None:
        raise bad_request(BAD_DESTINATION)
    if (key is not None or required) and not is_kms_key_arn(str(key or "")):
        raise bad_request(BAD_KEY)
    return (None if destination is None else str(destination)), (None if key is None else str(key))


def _found(call: Call, detector: DetectorRecord) -> DestinationRecord:
    found = get_destination(call.store, detector.detector_id, str(call.params.get("destinationId", "")))
    if found is None:
        raise bad_request(NOT_FOUND)
    return found


@operation("CreatePublishingDestination")
def create(call: Call) -> dict[str, Any]:
    detector = call.detector()
    destination_arn, kms_key_arn = _properties(call, required=True)
    assert destination_arn is not None and kms_key_arn is not None
    destination_id = uuid.uuid4().hex
    try:
        create_destination(
            call.store,
            detector.detector_id,
            destination_id=destination_id,
            destination_type=str(call.params["destinationType"]),
            destination_arn=destination_arn,
            kms_key_arn=kms_key_arn,
            now=call.now,
            arn=_arn(detector, destination_id),
            tags_=call.params.get("tags") or {},
        )
    except DestinationQuotaExceeded:
        raise bad_request(QUOTA) from None
    return {"destinationId": destination_id}


@operation("DescribePublishingDestination")
def describe(call: Call) -> dict[str, Any]:
    detector = call.detector()
    found = _found(call, detector)
    failing = found.failure_started_at
    return {
        "destinationId": found.destination_id,
        "destinationType": found.destination_type,
        "status": found.status,
        "publishingFailureStartTimestamp": 0 if failing is None else int(failing.timestamp() * 1000),
        "destinationProperties": {"destinationArn": found.destination_arn, "kmsKeyArn": found.kms_key_arn},
        "tags": resource_tags(call.store, _arn(detector, found.destination_id)),
    }


@operation("UpdatePublishingDestination")
def update(call: Call) -> dict[str, Any]:
    detector = call.detector()
    destination_id = _found(call, detector).destination_id
    destination_arn, kms_key_arn = _properties(call, required=False)
    updated = update_destination(
        call.store,
        detector.detector_id,
        destination_id,
        now=call.now,
        destination_arn=destination_arn,
        kms_key_arn=kms_key_arn,
    )
    if updated is None:  # deleted since it was read
        raise bad_request(NOT_FOUND)
    return {}


@operation("DeletePublishingDestination")
def delete(call: Call) -> dict[str, Any]:
    detector = call.detector()
    destination_id = str(call.params.get("destinationId", ""))
    if not delete_destination(
        call.store, detector.detector_id, destination_id, _arn(detector, destination_id)
    ):
        raise bad_request(NOT_FOUND)
    return {}


@operation("ListPublishingDestinations")
def list_all(call: Call) -> dict[str, Any]:
    detector = call.detector()
    found = list_destinations(call.store, detector.detector_id)
    items, token = page(call, found)
    return {
        "destinations": [
            {"destinationId": d.destination_id, "destinationType": d.destination_type, "status": d.status}
            for d in items
        ],
        **({"nextToken": token} if token else {}),
    }
