"""Publishing destinations: where a detector's findings are to be exported (GuardDuty's
CreatePublishingDestination … ListPublishingDestinations).

Only the configuration lives here; the export itself is not written yet. So a destination is
created ``PENDING_VERIFICATION`` and stays so until an exporter has written to it: that is
GuardDuty's own status for a destination it has not yet shown it can publish to, and claiming
``PUBLISHING`` would tell users their findings are being exported when nothing is. The
exporter reports back through :func:`set_destination_status`: ``PUBLISHING`` once it writes,
``UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY`` when it cannot (the time of that change is the
``publishingFailureStartTimestamp`` GuardDuty shows), ``STOPPED``. Changing a destination's
properties sends it back to ``PENDING_VERIFICATION``.

A detector has at most one destination (:data:`DESTINATION_QUOTA`), as GuardDuty exports a
detector's findings to one S3 location. ``destinationArn`` is an S3 bucket ARN with an optional
key prefix (``arn:aws:s3:::bucket[/prefix]``), ``kmsKeyArn`` a KMS key ARN
(``arn:aws:kms:region:account:key/id``), the key GuardDuty encrypts exported findings with.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from keibi.store.store import Store
from keibi.store.tables import detectors, publishing_destinations
from keibi.store.tags import add_tags, drop_tags

PublishingStatus = Literal[
    "PENDING_VERIFICATION", "PUBLISHING", "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY", "STOPPED"
]

DESTINATION_QUOTA: Final = 1  # destinations per detector
PENDING_VERIFICATION: Final = "PENDING_VERIFICATION"
UNABLE_TO_PUBLISH: Final = "UNABLE_TO_PUBLISH_FIX_DESTINATION_PROPERTY"
S3: Final = "S3"

_PARTITIONS: Final = "aws|aws-cn|aws-us-gov"
_BUCKET_ARN: Final = re.compile(
    rf"arn:(?:{_PARTITIONS}):s3:::(?P<bucket>[a-z0-9][a-z0-9.-]{{1,61}}[a-z0-9])(?:/(?P<prefix>.+))?"
)
_KMS_KEY_ARN: Final = re.compile(
    rf"arn:(?:{_PARTITIONS}):kms:[a-z]{{2}}(?:-[a-z]+)+-\d+:\d{{12}}:key/[A-Za-z0-9-]{{1,128}}"
)


class DestinationError(ValueError):
    """A destination write the detector's destinations do not allow."""


class DestinationQuotaExceeded(DestinationError):
    """The detector already has :data:`DESTINATION_QUOTA` destinations."""


@dataclass(frozen=True, slots=True)
class DestinationRecord:
    destination_id: str
    detector_id: str
    destination_type: str  # S3
    destination_arn: str
    kms_key_arn: str
    status: PublishingStatus
    created_at: datetime
    updated_at: datetime  # also when the status last changed

    @property
    def failure_started_at(self) -> datetime | None:
        """Since when the exporter has been unable to publish, or ``None``."""
        return self.updated_at if self.status == UNABLE_TO_PUBLISH else None


def bucket_and_prefix(destination_arn: str) -> tuple[str, str] | None:
    """(bucket, key prefix; ``""`` for none) of an S3 bucket ARN, or ``None`` when it is not one.

    >>> bucket_and_prefix("arn:aws:s3:::findings-bucket/guardduty")
    ('findings-bucket', 'guardduty')
    """
    found = _BUCKET_ARN.fullmatch(destination_arn)
    if found is None or ".." in found["bucket"]:
        return None
    return found["bucket"], found["prefix"] or ""


def is_kms_key_arn(arn: str) -> bool:
    return _KMS_KEY_ARN.fullmatch(arn) is not None


def _record(row: RowMapping) -> DestinationRecord:
    return DestinationRecord(
        destination_id=row["destination_id"],
        detector_id=row["detector_id"],
        destination_type=row["destination_type"],
        destination_arn=row["destination_arn"],
        kms_key_arn=row["kms_key_arn"],
        status=row["status"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _mine(detector_id: str, destination_id: str) -> sa.ColumnElement[bool]:
    t = publishing_destinations.c
    return sa.and_(t.detector_id == detector_id, t.destination_id == destination_id)


def _lock(conn: Connection, detector_id: str) -> None:
    conn.execute(
        sa.select(detectors.c.detector_id).where(detectors.c.detector_id == detector_id).with_for_update()
    )


def create_destination(
    store: Store,
    detector_id: str,
    *,
    destination_id: str,
    destination_arn: str,
    kms_key_arn: str,
    now: datetime,
    arn: str,
    destination_type: str = S3,
    tags_: dict[str, str] | None = None,
    quota: int = DESTINATION_QUOTA,
) -> DestinationRecord:
    """The new destination (``PENDING_VERIFICATION``), its tags kept under ``arn``; raises
    ``DestinationQuotaExceeded``. The ARNs are the caller's to check (:func:`bucket_and_prefix`,
    :func:`is_kms_key_arn`)."""
    t = publishing_destinations.c
    with store.transaction("create a publishing destination") as conn:
        _lock(conn, detector_id)
        held = int(
            conn.scalar(
                sa.select(sa.func.count())
                .select_from(publishing_destinations)
                .where(t.detector_id == detector_id)
            )
            or 0
        )
        if held >= quota:
            raise DestinationQuotaExceeded(f"the detector already has {held} publishing destination(s)")
        conn.execute(
            sa.insert(publishing_destinations).values(
                destination_id=destination_id,
                detector_id=detector_id,
                destination_type=destination_type,
                destination_arn=destination_arn,
                kms_key_arn=kms_key_arn,
                status=PENDING_VERIFICATION,
                created_at=now,
                updated_at=now,
            )
        )
        add_tags(conn, arn, tags_ or {})
    found = get_destination(store, detector_id, destination_id)
    assert found is not None
    return found


def get_destination(store: Store, detector_id: str, destination_id: str) -> DestinationRecord | None:
    with store.transaction("read a publishing destination", read=True) as conn:
        row = (
            conn.execute(sa.select(publishing_destinations).where(_mine(detector_id, destination_id)))
            .mappings()
            .first()
        )
    return None if row is None else _record(row)


def list_destinations(store: Store, detector_id: str) -> list[DestinationRecord]:
    """The detector's destinations, oldest first."""
    t = publishing_destinations.c
    stmt = (
        sa.select(publishing_destinations)
        .where(t.detector_id == detector_id)
        .order_by(t.created_at, t.destination_id)
    )
    with store.transaction("list publishing destinations", read=True) as conn:
        return [_record(row) for row in conn.execute(stmt).mappings()]


def update_destination(
    store: Store,
    detector_id: str,
    destination_id: str,
    *,
    now: datetime,
    destination_arn: str | None = None,
    kms_key_arn: str | None = None,
) -> DestinationRecord | None:
    """The destination after the changes (back to ``PENDING_VERIFICATION`` when a property
    changed), or ``None`` when the detector has no such destination."""
    with store.transaction("update a publishing destination") as conn:
        row = (
            conn.execute(sa.select(publishing_destinations).where(_mine(detector_id, destination_id)))
            .mappings()
            .first()
        )
        if row is None:
            return None
        values: dict[str, Any] = {}
        if destination_arn is not None and destination_arn != row["destination_arn"]:
            values["destination_arn"] = destination_arn
        if kms_key_arn is not None and kms_key_arn != row["kms_key_arn"]:
            values["kms_key_arn"] = kms_key_arn
        if values:
            values |= {"status": PENDING_VERIFICATION, "updated_at": now}
            conn.execute(
                sa.update(publishing_destinations).where(_mine(detector_id, destination_id)).values(**values)
            )
    return get_destination(store, detector_id, destination_id)


def delete_destination(store: Store, detector_id: str, destination_id: str, arn: str) -> bool:
    """Delete the destination and its tags (kept under ``arn``); ``False`` if there was none."""
    with store.transaction("delete a publishing destination") as conn:
        gone = conn.execute(sa.delete(publishing_destinations).where(_mine(detector_id, destination_id)))
        if not gone.rowcount:
            return False
        drop_tags(conn, arn)
    return True


def set_destination_status(
    store: Store, destination_id: str, status: PublishingStatus, now: datetime
) -> bool:
    """For the exporter: record what publishing to the destination did (module docstring). The
    time is kept only when the status changes, so a failure keeps the time it started."""
    t = publishing_destinations.c
    with store.transaction("update a publishing destination") as conn:
        done = conn.execute(
            sa.update(publishing_destinations)
            .where(t.destination_id == destination_id, t.status != status)
            .values(status=status, updated_at=now)
        )
        if done.rowcount:
            return True
        return (
            conn.execute(sa.select(t.destination_id).where(t.destination_id == destination_id)).first()
            is not None
        )


def all_destinations(store: Store) -> list[tuple[DestinationRecord, str, str]]:
    """Every destination with its detector's account and region, for the exporter."""
    d, t = detectors.c, publishing_destinations.c
    with store.transaction("read publishing destinations", read=True) as conn:
        rows = conn.execute(
            sa.select(publishing_destinations, d.account_id, d.region)
            .join(detectors, d.detector_id == t.detector_id)
            .order_by(t.destination_id)
        ).mappings()
        return [(_record(row), str(row["account_id"]), str(row["region"])) for row in rows]


__all__ = [
    "DESTINATION_QUOTA",
    "PENDING_VERIFICATION",
    "S3",
    "UNABLE_TO_PUBLISH",
    "DestinationError",
    "DestinationQuotaExceeded",
    "DestinationRecord",
    "PublishingStatus",
    "all_destinations",
    "bucket_and_prefix",
    "create_destination",
    "delete_destination",
    "get_destination",
    "is_kms_key_arn",
    "list_destinations",
    "set_destination_status",
    "update_destination",
]
