"""GuardDuty detectors as the API manages them: one per account and region.

A detector's id is ``keibi.findings.build.detector_id(account, region)``, the id findings of
that account and region already carry in ``service.detectorId``: findings scanned before the
detector was created belong to it, and deleting and re-creating it finds them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import RowMapping

from keibi.findings.build import detector_id as detector_id_of
from keibi.store.store import Store
from keibi.store.tables import detectors, filters, members, publishing_destinations, tags


@dataclass(frozen=True, slots=True)
class DetectorRecord:
    detector_id: str
    account_id: str
    region: str
    status: str  # ENABLED | DISABLED
    finding_publishing_frequency: str
    features: list[dict[str, Any]]  # [{name, status, updatedAt, additionalConfiguration?}] (wire)
    created_at: datetime
    updated_at: datetime


def _record(row: RowMapping) -> DetectorRecord:
    return DetectorRecord(
        detector_id=row["detector_id"],
        account_id=row["account_id"],
        region=row["region"],
        status=row["status"],
        finding_publishing_frequency=row["finding_publishing_frequency"],
        features=orjson.loads(row["features"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def find_detector(store: Store, detector_id: str) -> DetectorRecord | None:
    with store.transaction("read detector", read=True) as conn:
        row = (
            conn.execute(sa.select(detectors).where(detectors.c.detector_id == detector_id))
            .mappings()
            .first()
        )
    return None if row is None else _record(row)


def detector_for(store: Store, account_id: str, region: str) -> DetectorRecord | None:
    """The detector of ``account_id`` in ``region``, if it has one."""
    return find_detector(store, detector_id_of(account_id, region))


def create_detector(
    store: Store,
    account_id: str,
    region: str,
    *,
    enabled: bool,
    frequency: str,
    features: list[dict[str, Any]],
    now: datetime,
) -> DetectorRecord | None:
    """The new detector, or ``None`` when the account already has one in ``region``."""
    did = detector_id_of(account_id, region)
    row = {
        "detector_id": did,
        "account_id": account_id,
        "region": region,
        "status": "ENABLED" if enabled else "DISABLED",
        "finding_publishing_frequency": frequency,
        "data_sources": "{}",
        "features": orjson.dumps(features).decode(),
        "created_at": now,
        "updated_at": now,
    }
    try:
        with store.transaction("create detector") as conn:
            conn.execute(sa.insert(detectors), [row])
    except sa.exc.IntegrityError:
        return None
    return find_detector(store, did)


def update_detector(
    store: Store,
    detector_id: str,
    *,
    enabled: bool | None,
    frequency: str | None,
    features: list[dict[str, Any]] | None,
    now: datetime,
) -> None:
    values: dict[str, Any] = {"updated_at": now}
    if enabled is not None:
        values["status"] = "ENABLED" if enabled else "DISABLED"
    if frequency is not None:
        values["finding_publishing_frequency"] = frequency
    if features is not None:
        values["features"] = orjson.dumps(features).decode()
    with store.transaction("update detector") as conn:
        conn.execute(sa.update(detectors).where(detectors.c.detector_id == detector_id).values(**values))


def delete_detector(store: Store, detector_id: str, arn_prefix: str) -> None:
    """Delete the detector with its filters, lists, destinations, member records and tags.

    The findings stay: they were made by scans of the account's logs, not by the detector,
    and GuardDuty's 90-day retention is the store's business, not this call's.
    """
    from keibi.store.api_lists import delete_detector_lists

    with store.transaction("delete detector") as conn:
        delete_detector_lists(conn, detector_id)
        for table in (filters, publishing_destinations, members):
            conn.execute(sa.delete(table).where(table.c.detector_id == detector_id))
        conn.execute(sa.delete(tags).where(tags.c.arn.startswith(arn_prefix, autoescape=True)))
        conn.execute(sa.delete(detectors).where(detectors.c.detector_id == detector_id))


# A detector feature → the data source (GuardDuty's DataSource, as ``keibi.store.usage`` names
# them) it switches.
FEATURE_SOURCES: Final = {
    "CLOUD_TRAIL": "CLOUD_TRAIL",
    "S3_DATA_EVENTS": "S3_LOGS",
    "FLOW_LOGS": "FLOW_LOGS",
    "DNS_LOGS": "DNS_LOGS",
}


def paused(store: Store) -> list[tuple[str, str, str]]:
    """(account, region, data source) that scans must not analyse: every source of a DISABLED
    detector, and the sources of features switched off. Accounts without a detector are
    analysed in full (keibi scans logs without any API setup)."""
    with store.transaction("read detectors", read=True) as conn:
        rows = conn.execute(
            sa.select(detectors.c.account_id, detectors.c.region, detectors.c.status, detectors.c.features)
        )
        out: list[tuple[str, str, str]] = []
        for account, region, status, features in rows:
            off = {f["name"] for f in orjson.loads(features) if f.get("status") == "DISABLED"}
            for feature, source in FEATURE_SOURCES.items():
                if status == "DISABLED" or feature in off:
                    out.append((account, region, source))
    return out
