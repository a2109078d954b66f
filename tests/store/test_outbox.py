"""The publishing outbox and ``Store.unit``, on SQLite and PostgreSQL: events are written in one
transaction with the findings, manifest rows and usage they come with (all or nothing), each
delivery is due in order, retried at the time given, dead-lettered and put back, and counted."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from keibi.errors import StoreError
from keibi.findings import FindingRecord
from keibi.findings.samples import sample_findings
from keibi.store import Store
from keibi.store.manifest import DONE, ManifestEntry, record_files, source_status
from keibi.store.outbox import (
    DeliveryStatus,
    Due,
    add_events,
    dead_letter_rows,
    delivery_status,
    due,
    mark_delivered,
    mark_failed,
    retry_dead,
)
from keibi.store.tables import deliveries, publish_events, usage
from keibi.store.usage import UsageRow, record_usage

ACCOUNT, REGION = "111122223333", "us-east-1"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TYPES = ["Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:EC2/TorClient"]
Event = tuple[str, str, dict[str, Any]]


def _event(n: int) -> Event:
    """(kind, finding id, event) as ``keibi.publish.events`` makes them, cut to what the outbox reads."""
    fid = f"finding-{n}"
    eid = str(uuid.uuid5(uuid.NAMESPACE_URL, fid))
    return "NEW", fid, {"id": eid, "account": ACCOUNT, "region": REGION, "detail": {"id": fid}}


def _eid(n: int) -> str:
    return str(_event(n)[2]["id"])


def _count(store: Store, table: sa.Table) -> int:
    with store.transaction("count", read=True) as conn:
        return int(conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


# -- Store.unit ----------------------------------------------------------------------------


def _write_everything(store: Store, record: FindingRecord, uri: str) -> None:
    """What the watch loop writes for one file: findings, manifest row, usage, outbox event."""
    store.upsert_findings([record])
    record_files(store, {(uri, 10, "etag-1"): ManifestEntry("logs", DONE, 5, 0)}, T0)
    record_usage(store, [UsageRow(T0.date(), ACCOUNT, REGION, "FLOW_LOGS", "eni-1", 5, 10)], at=T0)
    add_events(store, [_event(1)], {_eid(1): ["hook"]}, T0)


@pytest.fixture
def record() -> FindingRecord:
    return FindingRecord(sample_findings(ACCOUNT, REGION, TYPES[:1], now=T0)[0], [])


def test_a_unit_commits_everything_written_in_it(store: Store, record: FindingRecord) -> None:
    with store.unit("process a file"):
        _write_everything(store, record, "file:///logs/1.log")
    assert [f["id"] for f in store.get_findings([record.id])] == [record.id]
    assert store.processed([("file:///logs/1.log", 10, "etag-1")]) == {"file:///logs/1.log"}
    assert [s.files for s in source_status(store, T0)] == [1]
    assert _count(store, usage) == 1
    assert [d.event_id for d in due(store, "hook", T0, 10)] == [_eid(1)]


def test_an_exception_in_a_unit_rolls_all_of_it_back(store: Store, record: FindingRecord) -> None:
    with pytest.raises(RuntimeError, match="crash"), store.unit("process a file"):
        _write_everything(store, record, "file:///logs/1.log")
        raise RuntimeError("crash")
    assert store.get_findings([record.id]) == []
    assert store.processed([("file:///logs/1.log", 10, "etag-1")]) == set()
    assert source_status(store, T0) == []
    assert _count(store, usage) == 0
    assert _count(store, publish_events) == 0
    assert due(store, "hook", T0 + timedelta(days=1), 10) == []
    # The store is usable afterwards: the next unit is a fresh transaction.
    with store.unit("process it again"):
        _write_everything(store, record, "file:///logs/1.log")
    assert _count(store, publish_events) == 1


def test_units_do_not_nest(store: Store, record: FindingRecord) -> None:
    with store.unit("outer"):
        store.upsert_findings([record])
        with pytest.raises(StoreError, match="a unit is already open"), store.unit("inner"):
            pass  # pragma: no cover - never entered
    # The refused inner unit neither committed nor spoilt the outer one.
    assert [f["id"] for f in store.get_findings([record.id])] == [record.id]


def test_another_threads_writes_are_not_part_of_the_unit(store: Store) -> None:
    mine, theirs = (FindingRecord(f, []) for f in sample_findings(ACCOUNT, REGION, TYPES, now=T0))
    errors: list[BaseException] = []

    def other_thread() -> None:
        try:
            store.upsert_findings([theirs])
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)

    thread = threading.Thread(target=other_thread)
    with pytest.raises(RuntimeError), store.unit("rolled back"):
        store.upsert_findings([mine])
        thread.start()  # SQLite: it waits for the unit's write lock; PostgreSQL: it goes ahead
        raise RuntimeError("roll back")
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert errors == []
    assert store.get_findings([mine.id]) == []
    assert [f["id"] for f in store.get_findings([theirs.id])] == [theirs.id]


# -- events and deliveries -------------------------------------------------------------------


def test_due_is_oldest_first_per_target_and_limited(store: Store) -> None:
    add_events(store, [_event(3)], {_eid(3): ["hook", "slack"]}, T0)
    add_events(
        store, [_event(1), _event(2)], {_eid(1): ["hook"], _eid(2): ["hook"]}, T0 + timedelta(minutes=1)
    )
    add_events(store, [_event(4)], {_eid(4): []}, T0)  # wanted by no target: stored, never due
    later = T0 + timedelta(minutes=5)
    same_time = sorted([_eid(1), _eid(2)])  # created together: by event id
    assert [d.event_id for d in due(store, "hook", later, 10)] == [_eid(3), *same_time]
    assert [d.event_id for d in due(store, "hook", later, 2)] == [_eid(3), same_time[0]]
    assert [d.event_id for d in due(store, "hook", T0, 10)] == [_eid(3)]  # the others not due yet
    assert [d.event_id for d in due(store, "slack", later, 10)] == [_eid(3)]
    assert due(store, "email", later, 10) == []
    (first,) = due(store, "slack", later, 1)
    assert first == Due(_eid(3), "slack", 0, _event(3)[2])  # the body as it was written
    assert _count(store, publish_events) == 4


def test_an_event_added_again_is_not_duplicated(store: Store) -> None:
    add_events(store, [_event(1)], {_eid(1): ["hook"]}, T0)
    add_events(store, [_event(1), _event(2)], {_eid(1): ["hook", "slack"], _eid(2): ["hook"]}, T0)
    assert _count(store, publish_events) == 2
    assert _count(store, deliveries) == 2  # the replayed event got no second (nor new) delivery
    assert [d.event_id for d in due(store, "hook", T0, 10)] == sorted([_eid(1), _eid(2)])
    assert due(store, "slack", T0, 10) == []


def test_a_delivered_event_is_not_due_again(store: Store) -> None:
    add_events(store, [_event(1), _event(2)], {_eid(1): ["hook"], _eid(2): ["hook"]}, T0)
    mark_delivered(store, "hook", [_eid(1)], T0 + timedelta(seconds=1))
    assert [d.event_id for d in due(store, "hook", T0 + timedelta(hours=1), 10)] == [_eid(2)]
    (status,) = delivery_status(store)
    assert (status.delivered, status.pending, status.retrying, status.dead) == (1, 1, 0, 0)


def test_a_failure_with_a_retry_time_is_due_again_only_then(store: Store) -> None:
    add_events(store, [_event(1)], {_eid(1): ["hook"]}, T0)
    (item,) = due(store, "hook", T0, 10)
    retry_at = T0 + timedelta(seconds=30)
    mark_failed(store, item, "HTTP 503 from hook.example: busy", retry_at, T0)
    assert due(store, "hook", retry_at - timedelta(seconds=1), 10) == []
    (again,) = due(store, "hook", retry_at, 10)
    assert again.attempts == 1
    mark_failed(
        store, again, "HTTP 502 from hook.example: bad gateway", retry_at + timedelta(minutes=1), retry_at
    )
    (third,) = due(store, "hook", retry_at + timedelta(minutes=1), 10)
    assert third.attempts == 2
    assert delivery_status(store) == [
        DeliveryStatus(
            "hook",
            delivered=0,
            pending=1,
            retrying=1,
            dead=0,
            oldest_pending_at=retry_at + timedelta(minutes=1),
            last_error="HTTP 502 from hook.example: bad gateway",
        )
    ]
    mark_delivered(store, "hook", [_eid(1)], retry_at + timedelta(minutes=1))
    assert delivery_status(store) == [DeliveryStatus("hook", 1, 0, 0, 0, None, None)]


def test_a_failure_without_a_retry_time_is_dead_lettered_and_can_be_retried(store: Store) -> None:
    add_events(store, [_event(1), _event(2)], {_eid(1): ["hook", "slack"], _eid(2): ["hook"]}, T0)
    for n, target, when in ((1, "hook", 1), (2, "hook", 2), (1, "slack", 3)):
        (item,) = [d for d in due(store, target, T0, 10) if d.event_id == _eid(n)]
        mark_failed(store, item, f"HTTP 400 from {target}.example", None, T0 + timedelta(minutes=when))
    assert due(store, "hook", T0 + timedelta(days=30), 10) == []
    assert _count(store, deliveries) == 0  # moved, not copied
    rows = dead_letter_rows(store)
    assert [(r["event_id"], r["target"], r["finding_id"]) for r in rows] == [
        (_eid(1), "slack", "finding-1"),  # newest failure first
        (_eid(2), "hook", "finding-2"),
        (_eid(1), "hook", "finding-1"),
    ]
    assert rows[0]["attempts"] == 1
    assert rows[0]["last_error"] == "HTTP 400 from slack.example"
    assert rows[0]["failed_at"] == T0 + timedelta(minutes=3)
    assert len(dead_letter_rows(store, limit=2)) == 2
    # A target with nothing but dead letters is still listed, with its latest failure's error.
    assert delivery_status(store) == [
        DeliveryStatus("hook", 0, 0, 0, 2, None, "HTTP 400 from hook.example"),
        DeliveryStatus("slack", 0, 0, 0, 1, None, "HTTP 400 from slack.example"),
    ]

    back = T0 + timedelta(hours=1)
    assert retry_dead(store, back, target="slack") == 1
    assert [(d.event_id, d.attempts) for d in due(store, "slack", back, 10)] == [(_eid(1), 0)]
    assert due(store, "slack", back - timedelta(seconds=1), 10) == []  # due from ``back`` on
    assert due(store, "hook", back, 10) == []  # only slack's were put back
    assert retry_dead(store, back) == 2
    assert sorted(d.event_id for d in due(store, "hook", back, 10)) == sorted([_eid(1), _eid(2)])
    assert dead_letter_rows(store) == []
    assert retry_dead(store, back) == 0


def test_a_delivery_dead_lettered_twice_keeps_one_dead_letter(store: Store) -> None:
    add_events(store, [_event(1)], {_eid(1): ["hook"]}, T0)
    for attempt in range(2):
        (item,) = due(store, "hook", T0 + timedelta(hours=attempt), 10)
        mark_failed(store, item, f"refused {attempt}", None, T0 + timedelta(hours=attempt))
        if attempt == 0:
            assert retry_dead(store, T0 + timedelta(hours=1)) == 1
    (row,) = dead_letter_rows(store)
    assert (row["last_error"], row["attempts"]) == ("refused 1", 1)
