"""Findings as GuardDuty's EventBridge events, and when each is emitted.

GuardDuty emits a new finding at once and batches later occurrences of an existing one on the
detector's ``findingPublishingFrequency`` (FIFTEEN_MINUTES, ONE_HOUR, SIX_HOURS; an
administrator's setting applies to its members). A finding stored archived when it was
created was suppressed by a rule: neither it nor its later occurrences are emitted. A finding
archived by hand is still emitted when it recurs.

Event ids are derived from the finding (and, for an update, the occurrence count it is
published at; UUID 5), not drawn at random: the same logs give the same events however often
the watch loop is killed and restarted, and a receiver de-duplicates a redelivery by the id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from keibi.store import Store
from keibi.store.detectors import detector_for
from keibi.store.members import administrator_of
from keibi.store.outbox import add_events, pending_updates, publish_rows, upsert_publish_rows

NAMESPACE: Final = uuid.UUID("5f0c5d1e-8f0e-4b6a-9a49-6b6569626900")  # keibi's, for uuid5
FREQUENCIES: Final = {
    "FIFTEEN_MINUTES": timedelta(minutes=15),
    "ONE_HOUR": timedelta(hours=1),
    "SIX_HOURS": timedelta(hours=6),
}
DEFAULT_FREQUENCY: Final = "SIX_HOURS"  # GuardDuty's default
NEW: Final = "NEW"
UPDATE: Final = "UPDATE"


class Wants(Protocol):
    """A publishing target as far as routing goes: its name and whether it wants an event."""

    name: str

    def wants(self, event: Mapping[str, Any]) -> bool: ...


def event_id(finding: Mapping[str, Any], kind: str) -> str:
    """A finding is new once: its NEW event's id is the finding's. An update's id also holds the
    count it was published at."""
    if kind == NEW:
        return str(uuid.uuid5(NAMESPACE, f"{finding['id']}/{NEW}"))
    count = finding.get("service", {}).get("count", 1)
    return str(uuid.uuid5(NAMESPACE, f"{finding['id']}/{kind}/{count}"))


def guardduty_event(finding: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The EventBridge event GuardDuty sends for ``finding`` (``detail`` is the finding itself);
    ``time`` is when the finding was last updated, so the event is the same on a replay."""
    return {
        "version": "0",
        "id": event_id(finding, kind),
        "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty",
        "account": finding["accountId"],
        "time": finding.get("updatedAt") or finding.get("createdAt"),
        "region": finding["region"],
        "resources": [],
        "detail": dict(finding),
    }


def _route(
    events: Sequence[tuple[str, str, dict[str, Any]]], targets: Sequence[Wants]
) -> dict[str, list[str]]:
    return {e["id"]: [t.name for t in targets if t.wants(e)] for _, _, e in events}


def on_findings(
    store: Store,
    findings: Sequence[dict[str, Any]],
    created: set[str],
    targets: Sequence[Wants],
    at: datetime,
) -> int:
    """Emit ``findings`` just stored (``created``: those new in this store): new ones at once,
    updates left pending for the publishing frequency. Returns the events emitted. Call it
    inside the unit that stored them."""
    if not findings:
        return 0
    rows = publish_rows(store, [f["id"] for f in findings])
    changes: list[dict[str, Any]] = []
    events: list[tuple[str, str, dict[str, Any]]] = []
    for f in findings:
        fid = f["id"]
        row = rows.get(fid)
        if fid in created:
            suppressed = _archived(f)
            changes.append(
                _state(f, suppressed, 0 if suppressed else _count(f), published_at=None if suppressed else at)
            )
            if not suppressed:
                events.append((NEW, fid, guardduty_event(f, NEW)))
        elif row is None:  # stored before publishing knew it (a scan): its updates are published
            changes.append(_state(f, False, 0, pending_since=at))
        elif not row.suppressed and row.pending_since is None and _count(f) != row.published_count:
            changes.append(_state(f, False, row.published_count, pending_since=at))
    upsert_publish_rows(store, changes)
    add_events(store, events, _route(events, targets), at)
    return len(events)


def _count(finding: dict[str, Any]) -> int:
    return int(finding.get("service", {}).get("count", 1))


def _archived(finding: dict[str, Any]) -> bool:
    return bool(finding.get("service", {}).get("archived"))


def _state(
    finding: dict[str, Any],
    suppressed: bool,
    published_count: int,
    *,
    pending_since: datetime | None = None,
    published_at: datetime | None = None,
) -> dict[str, Any]:
    """A row of ``published_findings`` for ``finding``."""
    return {
        "finding_id": finding["id"],
        "account_id": finding["accountId"],
        "region": finding["region"],
        "suppressed": suppressed,
        "published_count": published_count,
        "pending_since": pending_since,
        "published_at": published_at,
    }


def record_backfilled(
    store: Store, findings: Sequence[dict[str, Any]], created: set[str], at: datetime
) -> None:
    """What a scan (a backfill, which emits nothing) created, as published at its count: a
    later watch then publishes its updates, except for the findings a suppression rule
    archived at creation, which stay unpublished for good."""
    upsert_publish_rows(store, [_state(f, _archived(f), _count(f)) for f in findings if f["id"] in created])


def frequency_of(store: Store) -> Callable[[str, str], timedelta]:
    """(account, region) → its publishing frequency: the administrator's detector's setting when
    it has one, else its own detector's, else GuardDuty's default."""
    cache: dict[tuple[str, str], timedelta] = {}

    def frequency(account: str, region: str) -> timedelta:
        key = (account, region)
        if key not in cache:
            owner = administrator_of(store, account, region) or account
            detector = detector_for(store, owner, region) or detector_for(store, account, region)
            name = detector.finding_publishing_frequency if detector is not None else DEFAULT_FREQUENCY
            cache[key] = FREQUENCIES.get(name, FREQUENCIES[DEFAULT_FREQUENCY])
        return cache[key]

    return frequency


def publish_updates(store: Store, targets: Sequence[Wants], at: datetime) -> int:
    """Emit the pending updates whose publishing frequency has passed, each with the finding as
    it is now. Returns the events emitted."""
    frequency = frequency_of(store)
    ready = [
        fid
        for fid, account, region, since in pending_updates(store, since_before=at - min(FREQUENCIES.values()))
        if since + frequency(account, region) <= at
    ]
    if not ready:
        return 0
    with store.unit("publish updates"):
        findings = store.get_findings(ready)
        events = [(UPDATE, f["id"], guardduty_event(f, UPDATE)) for f in findings]
        upsert_publish_rows(store, [_state(f, False, _count(f), published_at=at) for f in findings])
        add_events(store, events, _route(events, targets), at)
    return len(events)


__all__ = [
    "DEFAULT_FREQUENCY",
    "FREQUENCIES",
    "NEW",
    "UPDATE",
    "Wants",
    "event_id",
    "frequency_of",
    "guardduty_event",
    "on_findings",
    "publish_updates",
    "record_backfilled",
]
