"""When findings become EventBridge events, on SQLite and PostgreSQL: a new finding at once
(routed to the targets that want it), its later occurrences on the publishing frequency of its
detector or its administrator's, a suppressed finding never; ids are deterministic, replays are
not duplicated, and a unit that fails leaves no event behind."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from keibi.findings import FindingRecord
from keibi.findings.samples import sample_findings
from keibi.publish.events import (
    DEFAULT_FREQUENCY,
    FREQUENCIES,
    NEW,
    UPDATE,
    event_id,
    frequency_of,
    guardduty_event,
    on_findings,
    publish_updates,
    record_backfilled,
)
from keibi.store import Store
from keibi.store.detectors import DetectorRecord, create_detector, update_detector
from keibi.store.members import accept_invitation, create_members, invitations, invite_members
from keibi.store.outbox import PublishRow, add_events, pending_updates, publish_rows
from keibi.store.tables import deliveries, publish_events

ACCOUNT, MEMBER, REGION = "111122223333", "444455556666", "us-east-1"
LOW, HIGH = "Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:EC2/TorClient"  # 2.0 and 8.0
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
Finding = dict[str, Any]


@dataclass
class Route:
    """A target as routing sees it: wants events of at least ``min_severity``."""

    name: str
    min_severity: float = 0.0

    def wants(self, event: Mapping[str, Any]) -> bool:
        return float(event["detail"]["severity"]) >= self.min_severity


TARGETS = [Route("all"), Route("high", 7.0)]


def _findings(*types: str, account: str = ACCOUNT) -> list[Finding]:
    return sample_findings(account, REGION, list(types), now=T0)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _again(finding: Finding, at: datetime) -> Finding:
    """One more occurrence of ``finding`` at ``at``, as a detector reports it (count 1)."""
    out = copy.deepcopy(finding)
    out["updatedAt"] = _iso(at)
    out["service"].update(count=1, eventFirstSeen=_iso(at), eventLastSeen=_iso(at), archived=False)
    return out


def _store(
    store: Store,
    findings: list[Finding],
    at: datetime,
    archive_new: Callable[[Finding], bool] | None = None,
) -> int:
    """Store ``findings`` and emit them in one unit, as the watch loop does; the events emitted."""
    created: set[str] = set()
    with store.unit("store and emit"):
        stored = store.upsert_findings(
            [FindingRecord(f, []) for f in findings], archive_new=archive_new, created=created
        )
        return on_findings(store, stored, created, TARGETS, at)


def _events(store: Store) -> list[tuple[str, str, Finding]]:
    e = publish_events.c
    with store.transaction("read events", read=True) as conn:
        rows = conn.execute(sa.select(e.kind, e.finding_id, e.body).order_by(e.created_at, e.finding_id))
        return [(str(kind), str(fid), orjson.loads(body)) for kind, fid, body in rows]


def _routes(store: Store) -> set[tuple[str, str]]:
    with store.transaction("read deliveries", read=True) as conn:
        return {
            (str(a), str(b)) for a, b in conn.execute(sa.select(deliveries.c.event_id, deliveries.c.target))
        }


def _stored(store: Store, fid: str) -> Finding:
    (found,) = store.get_findings([fid])
    return found


# -- event shape and ids ----------------------------------------------------------------------


def test_event_ids_are_deterministic() -> None:
    (f,) = _findings(HIGH)
    (other,) = _findings(HIGH)  # sample ids are random: another finding
    assert event_id(f, NEW) == event_id(copy.deepcopy(f), NEW)
    assert uuid.UUID(event_id(f, NEW)).version == 5
    counted = copy.deepcopy(f)
    counted["service"]["count"] = 2
    ids = {event_id(f, NEW), event_id(f, UPDATE), event_id(counted, UPDATE), event_id(other, NEW)}
    assert len(ids) == 4
    # A finding is new once: however many occurrences its NEW event carries, the id is the same
    # (how files are grouped into transactions changes the count, never the id).
    assert event_id(counted, NEW) == event_id(f, NEW)
    assert guardduty_event(f, NEW) == guardduty_event(copy.deepcopy(f), NEW)


def test_a_new_finding_is_one_new_event_for_the_targets_that_want_it(store: Store) -> None:
    low, high = _findings(LOW, HIGH)
    assert _store(store, [low, high], T0) == 2
    events = {fid: (kind, event) for kind, fid, event in _events(store)}
    assert set(events) == {low["id"], high["id"]}
    for f in (low, high):
        kind, event = events[f["id"]]
        assert kind == NEW
        assert event == {
            "version": "0",
            "id": event_id(f, NEW),
            "detail-type": "GuardDuty Finding",
            "source": "aws.guardduty",
            "account": ACCOUNT,
            "time": f["updatedAt"],
            "region": REGION,
            "resources": [],
            "detail": _stored(store, f["id"]),
        }
        assert event["detail"] == f
    assert _routes(store) == {
        (event_id(low, NEW), "all"),
        (event_id(high, NEW), "all"),
        (event_id(high, NEW), "high"),  # the low one is not routed to "high"
    }
    rows = publish_rows(store, [low["id"], high["id"], "unknown"])
    assert rows == {
        low["id"]: PublishRow(low["id"], False, 1, None),
        high["id"]: PublishRow(high["id"], False, 1, None),
    }
    assert pending_updates(store) == []
    assert on_findings(store, [], set(), TARGETS, T0) == 0


def test_a_failed_unit_leaves_no_event_and_no_publish_state(store: Store) -> None:
    (f,) = _findings(HIGH)
    with pytest.raises(RuntimeError), store.unit("crash after emitting"):
        created: set[str] = set()
        stored = store.upsert_findings([FindingRecord(f, [])], created=created)
        assert on_findings(store, stored, created, TARGETS, T0) == 1
        raise RuntimeError("crash")
    assert _events(store) == []
    assert _routes(store) == set()
    assert publish_rows(store, [f["id"]]) == {}
    assert _store(store, [f], T0) == 1  # the file read again gives the same event
    assert [e["id"] for _, _, e in _events(store)] == [event_id(f, NEW)]


def test_a_replayed_event_is_not_duplicated(store: Store) -> None:
    (f,) = _findings(HIGH)
    _store(store, [f], T0)
    before = _routes(store)
    replay = guardduty_event(_stored(store, f["id"]), NEW)
    add_events(
        store, [(NEW, f["id"], replay)], {replay["id"]: ["all", "high", "other"]}, T0 + timedelta(hours=1)
    )
    assert len(_events(store)) == 1
    assert _routes(store) == before


# -- suppression and archiving ---------------------------------------------------------------------


def test_a_suppressed_finding_is_never_published(store: Store) -> None:
    low, high = _findings(LOW, HIGH)
    assert _store(store, [low, high], T0, archive_new=lambda f: f["severity"] < 5) == 1
    assert [fid for _, fid, _ in _events(store)] == [high["id"]]
    assert _stored(store, low["id"])["service"]["archived"] is True
    assert publish_rows(store, [low["id"]]) == {low["id"]: PublishRow(low["id"], True, 0, None)}
    t1 = T0 + timedelta(hours=1)
    assert _store(store, [_again(low, t1)], t1) == 0
    assert _stored(store, low["id"])["service"]["count"] == 2
    assert pending_updates(store) == []
    assert publish_updates(store, TARGETS, t1 + timedelta(days=1)) == 0
    assert len(_events(store)) == 1


def test_a_finding_archived_by_hand_still_gets_its_updates(store: Store) -> None:
    (f,) = _findings(HIGH)
    _store(store, [f], T0)
    assert store.set_archived([f["id"]]) == 1
    t1 = T0 + timedelta(hours=1)
    assert _store(store, [_again(f, t1)], t1) == 0
    assert pending_updates(store) == [(f["id"], ACCOUNT, REGION, t1)]
    assert publish_updates(store, TARGETS, t1 + timedelta(hours=6)) == 1
    kind, _, update = _events(store)[-1]
    assert kind == UPDATE
    assert update["detail"]["service"]["archived"] is True
    assert update["detail"]["service"]["count"] == 2


# -- updates on the publishing frequency ------------------------------------------------------------


def test_an_update_waits_for_the_default_six_hours(store: Store) -> None:
    low, high = _findings(LOW, HIGH)
    _store(store, [low, high], T0)
    t1, t2 = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    assert _store(store, [_again(low, t1), _again(high, t1)], t1) == 0
    assert _store(store, [_again(high, t2)], t2) == 0  # still pending since t1, not t2
    assert pending_updates(store) == sorted(
        [(low["id"], ACCOUNT, REGION, t1), (high["id"], ACCOUNT, REGION, t1)]
    )
    # Only updates pending long enough are looked at (the publisher asks every half second).
    assert pending_updates(store, since_before=t1 - timedelta(seconds=1)) == []
    assert len(pending_updates(store, since_before=t1)) == 2
    assert publish_updates(store, TARGETS, t1 + timedelta(hours=6) - timedelta(seconds=1)) == 0
    assert len(_events(store)) == 2

    assert publish_updates(store, TARGETS, t1 + timedelta(hours=6)) == 2
    updates = {fid: event for kind, fid, event in _events(store) if kind == UPDATE}
    for f, count in ((low, 2), (high, 3)):
        now = _stored(store, f["id"])
        assert updates[f["id"]] == guardduty_event(now, UPDATE)
        assert updates[f["id"]]["detail"]["service"]["count"] == count
        assert updates[f["id"]]["time"] == now["updatedAt"]
    assert {(updates[high["id"]]["id"], "high"), (updates[low["id"]]["id"], "all")} <= _routes(store)
    assert (updates[low["id"]]["id"], "high") not in _routes(store)
    assert pending_updates(store) == []
    assert publish_rows(store, [high["id"]])[high["id"]] == PublishRow(high["id"], False, 3, None)
    assert publish_updates(store, TARGETS, t1 + timedelta(days=2)) == 0


def test_a_touched_finding_without_a_new_occurrence_is_not_pending(store: Store) -> None:
    (f,) = _findings(HIGH)
    _store(store, [f], T0)
    assert on_findings(store, [_stored(store, f["id"])], set(), TARGETS, T0 + timedelta(hours=1)) == 0
    assert pending_updates(store) == []


def test_a_finding_stored_before_publishing_gets_its_updates(store: Store) -> None:
    (f,) = _findings(HIGH)
    store.upsert_findings([FindingRecord(f, [])])  # a scan: nothing emitted
    t1 = T0 + timedelta(hours=1)
    assert _store(store, [_again(f, t1)], t1) == 0
    assert publish_rows(store, [f["id"]]) == {f["id"]: PublishRow(f["id"], False, 0, t1)}
    assert publish_updates(store, TARGETS, t1 + timedelta(hours=6)) == 1
    ((kind, _, event),) = _events(store)
    assert (kind, event["detail"]["service"]["count"]) == (UPDATE, 2)


def test_a_backfill_publishes_nothing_but_its_updates_are_and_its_suppressed_never(store: Store) -> None:
    """``keibi scan`` emits nothing; it records what it created, so a later watch publishes the
    updates of its findings but never those a suppression rule archived at creation."""
    kept, quiet = _findings(HIGH, LOW)
    created: set[str] = set()
    stored = store.upsert_findings(
        [FindingRecord(f, []) for f in (kept, quiet)],
        archive_new=lambda f: f["id"] == quiet["id"],
        created=created,
    )
    record_backfilled(store, stored, created, T0)
    assert _events(store) == []
    assert publish_rows(store, [quiet["id"]])[quiet["id"]].suppressed
    t1 = T0 + timedelta(hours=1)
    assert _store(store, [_again(kept, t1), _again(quiet, t1)], t1) == 0
    assert publish_updates(store, TARGETS, t1 + timedelta(hours=6)) == 1
    ((kind, fid, event),) = _events(store)
    assert (kind, fid, event["detail"]["service"]["count"]) == (UPDATE, kept["id"], 2)


def _detector(store: Store, account: str, frequency: str) -> DetectorRecord:
    made = create_detector(store, account, REGION, enabled=True, frequency=frequency, features=[], now=T0)
    assert made is not None
    return made


def _one_update_after(store: Store, f: Finding, wait: timedelta) -> None:
    """``f``'s update is published exactly ``wait`` after it became pending, not a second before."""
    _store(store, [f], T0)
    t1 = T0 + timedelta(minutes=1)
    _store(store, [_again(f, t1)], t1)
    assert publish_updates(store, TARGETS, t1 + wait - timedelta(seconds=1)) == 0
    assert publish_updates(store, TARGETS, t1 + wait) == 1
    assert [kind for kind, _, _ in _events(store)] == [NEW, UPDATE]


@pytest.mark.parametrize(
    ("how", "frequency"),
    [("created", "FIFTEEN_MINUTES"), ("created", "ONE_HOUR"), ("updated", "FIFTEEN_MINUTES")],
)
def test_the_detectors_frequency_applies(store: Store, how: str, frequency: str) -> None:
    if how == "created":
        _detector(store, ACCOUNT, frequency)
    else:
        other = "FIFTEEN_MINUTES" if frequency == "SIX_HOURS" else "SIX_HOURS"
        made = _detector(store, ACCOUNT, other)
        update_detector(store, made.detector_id, enabled=None, frequency=frequency, features=None, now=T0)
    assert frequency_of(store)(ACCOUNT, REGION) == FREQUENCIES[frequency]
    _one_update_after(store, _findings(HIGH)[0], FREQUENCIES[frequency])


def test_the_administrators_frequency_applies_to_its_members(store: Store) -> None:
    admin = _detector(store, ACCOUNT, "FIFTEEN_MINUTES")
    member = _detector(store, MEMBER, "ONE_HOUR")
    assert create_members(store, admin, [(MEMBER, "member@example.com")], T0) == []
    assert invite_members(store, admin, [MEMBER], T0) == []
    assert frequency_of(store)(MEMBER, REGION) == timedelta(hours=1)  # invited only: its own
    (invitation,) = invitations(store, MEMBER, REGION)
    assert invitation.invitation_id is not None
    accept_invitation(store, member, ACCOUNT, invitation.invitation_id, T0)
    frequency = frequency_of(store)
    assert frequency(MEMBER, REGION) == timedelta(minutes=15)
    assert frequency(MEMBER, "eu-west-1") == FREQUENCIES[DEFAULT_FREQUENCY]  # no administrator there
    _one_update_after(store, _findings(HIGH, account=MEMBER)[0], timedelta(minutes=15))


def test_without_a_detector_or_with_an_unknown_frequency_the_default_applies(store: Store) -> None:
    _detector(store, MEMBER, "EVERY_FULL_MOON")
    frequency = frequency_of(store)
    assert frequency(ACCOUNT, REGION) == timedelta(hours=6)
    assert frequency(MEMBER, REGION) == timedelta(hours=6)
    assert DEFAULT_FREQUENCY == "SIX_HOURS"
