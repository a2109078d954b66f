"""The watch manifest and what ``keibi status`` / ``/metrics`` read from it, on SQLite and
PostgreSQL: per-source totals, the last minute relative to the ``now`` given, the newest event
and its lag; listing markers; and the Prometheus collector over the manifest and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from keibi.status import StatusCollector, read_status
from keibi.store import Store
from keibi.store.manifest import (
    DONE,
    FAILED,
    LATE,
    ManifestEntry,
    SourceStatus,
    load_markers,
    record_files,
    save_markers,
    source_status,
)
from keibi.store.outbox import add_events, due, mark_delivered, mark_failed

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRAIL, FLOWS = "s3://trail-bucket/AWSLogs/", "dir:/var/log/flows"


def _minutes(n: float) -> datetime:
    return NOW - timedelta(minutes=n)


def _fill(store: Store) -> None:
    """Two sources: the trail has files from 10 minutes ago and from the last minute, the flows
    one old file; plus a file a scan read (no source), which no source counts."""
    record_files(
        store,
        {
            ("s3://trail-bucket/a.json.gz", 100, "e-a"): ManifestEntry(
                TRAIL, DONE, 40, 1, None, _minutes(30), _minutes(20)
            ),
            ("s3://trail-bucket/b.json.gz", 100, "e-b"): ManifestEntry(
                TRAIL, LATE, 5, 0, None, _minutes(300), _minutes(290)
            ),
        },
        _minutes(10),
    )
    record_files(
        store,
        {
            ("s3://trail-bucket/c.json.gz", 100, "e-c"): ManifestEntry(
                TRAIL, DONE, 7, 2, "c.json.gz:3: not JSON", _minutes(6), _minutes(5)
            ),
            ("s3://trail-bucket/d.txt", 3, "e-d"): ManifestEntry(TRAIL, FAILED, 0, 1, "not a log"),
        },
        _minutes(0.5),
    )
    record_files(
        store,
        {
            ("/var/log/flows/1.log", 50, None): ManifestEntry(
                FLOWS, DONE, 1000, 0, None, _minutes(64), _minutes(62)
            )
        },
        _minutes(60),
    )
    store.mark_processed([("/archive/old.log", 1, None)], _minutes(0.2))


def test_source_status_counts_per_source(store: Store) -> None:
    _fill(store)
    flows, trail = source_status(store, NOW)  # by source name
    assert trail == SourceStatus(
        source=TRAIL,
        files=4,
        events=52,
        errors=4,
        late=1,
        failed=1,
        files_last_minute=2,
        events_last_minute=7,
        last_file_at=_minutes(0.5),
        newest_event_at=_minutes(5),
    )
    assert flows == SourceStatus(FLOWS, 1, 1000, 0, 0, 0, 0, 0, _minutes(60), _minutes(62))
    assert trail.lag_seconds(NOW) == 300.0
    assert flows.lag_seconds(NOW) == 62 * 60.0
    # "The last minute" is relative to the ``now`` given: ten minutes on, nothing is recent.
    later = source_status(store, NOW + timedelta(minutes=10), [TRAIL])
    assert [(s.source, s.files, s.files_last_minute, s.events_last_minute) for s in later] == [
        (TRAIL, 4, 0, 0)
    ]


def test_the_last_minute_includes_its_first_instant(store: Store) -> None:
    record_files(store, {("u", 1, None): ManifestEntry(TRAIL, DONE, 3, 0)}, _minutes(1))
    assert [(s.files_last_minute, s.events_last_minute) for s in source_status(store, NOW)] == [(1, 3)]
    just_after = NOW + timedelta(milliseconds=1)
    assert [(s.files_last_minute, s.events_last_minute) for s in source_status(store, just_after)] == [(0, 0)]


def test_source_status_filters_and_empty(store: Store) -> None:
    assert source_status(store, NOW) == []
    _fill(store)
    assert [s.source for s in source_status(store, NOW, [FLOWS])] == [FLOWS]
    assert source_status(store, NOW, ["s3://other"]) == []


def test_a_file_recorded_again_replaces_its_row(store: Store) -> None:
    key = ("s3://trail-bucket/a.json.gz", 100, "e-a")
    record_files(store, {key: ManifestEntry(TRAIL, FAILED, 0, 1, "unreadable")}, _minutes(5))
    changed = ("s3://trail-bucket/a.json.gz", 120, "e-a2")  # a new version of the object
    record_files(store, {changed: ManifestEntry(TRAIL, DONE, 9, 0, None, _minutes(8), _minutes(7))}, NOW)
    (status,) = source_status(store, NOW)
    assert (status.files, status.events, status.errors, status.failed) == (1, 9, 0, 0)
    assert store.processed([changed]) == {"s3://trail-bucket/a.json.gz"}  # by its size and ETag
    assert store.processed([key]) == set()


def test_lag_is_none_without_events_and_never_negative() -> None:
    empty = SourceStatus("s", 1, 0, 0, 0, 1, 0, 0, NOW, None)
    assert empty.lag_seconds(NOW) is None
    ahead = SourceStatus("s", 1, 1, 0, 0, 0, 0, 0, NOW, NOW + timedelta(seconds=30))  # a skewed clock
    assert ahead.lag_seconds(NOW) == 0.0


def test_markers_round_trip_and_are_replaced(store: Store) -> None:
    assert load_markers(store, TRAIL) == {}
    save_markers(store, TRAIL, {"us-east-1/2024/05/01": "AWSLogs/x/2024/05/01/f3.json.gz", "eu-west-1": "k1"})
    save_markers(store, FLOWS, {"last": "1.log"})
    assert load_markers(store, TRAIL) == {
        "us-east-1/2024/05/01": "AWSLogs/x/2024/05/01/f3.json.gz",
        "eu-west-1": "k1",
    }
    save_markers(store, TRAIL, {"eu-west-1": "k2"})  # replaces the whole set, not a merge
    assert load_markers(store, TRAIL) == {"eu-west-1": "k2"}
    assert load_markers(store, FLOWS) == {"last": "1.log"}  # other sources untouched
    save_markers(store, TRAIL, {})
    assert load_markers(store, TRAIL) == {}
    assert load_markers(store, FLOWS) == {"last": "1.log"}


# -- keibi.status ------------------------------------------------------------------------------


def _deliveries(store: Store) -> None:
    """hook: one delivered, one retrying, one waiting, one dead; slack: one waiting."""
    events = [
        ("NEW", f"f{n}", {"id": f"00000000-0000-5000-8000-00000000000{n}", "account": "1", "region": "r"})
        for n in range(4)
    ]
    ids = [e["id"] for _, _, e in events]
    add_events(store, events, {ids[0]: ["hook", "slack"], **{i: ["hook"] for i in ids[1:]}}, _minutes(30))
    mark_delivered(store, "hook", [ids[0]], _minutes(29))
    by_id = {d.event_id: d for d in due(store, "hook", NOW, 10)}
    mark_failed(
        store, by_id[ids[1]], "HTTP 503 from hook.example: busy", NOW + timedelta(minutes=1), _minutes(28)
    )
    mark_failed(store, by_id[ids[2]], "HTTP 400 from hook.example: bad", None, _minutes(27))


def _samples(store: Store) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(StatusCollector(store, clock=lambda: NOW))
    text = generate_latest(registry).decode()
    assert 'keibi_watch_files_total{source="s3://trail-bucket/AWSLogs/",state="DONE"} 2.0' in text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_collector_exports_the_manifest_and_the_outbox(store: Store) -> None:
    _fill(store)
    _deliveries(store)
    got = _samples(store)

    def value(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert value("keibi_watch_files_total", source=TRAIL, state="DONE") == 2
    assert value("keibi_watch_files_total", source=TRAIL, state="LATE") == 1
    assert value("keibi_watch_files_total", source=TRAIL, state="FAILED") == 1
    assert value("keibi_watch_files_total", source=FLOWS, state="DONE") == 1
    assert value("keibi_watch_events_total", source=TRAIL) == 52
    assert value("keibi_watch_errors_total", source=TRAIL) == 4
    assert value("keibi_watch_files_per_minute", source=TRAIL) == 2
    assert value("keibi_watch_events_per_minute", source=TRAIL) == 7
    assert value("keibi_watch_lag_seconds", source=TRAIL) == 300
    assert value("keibi_watch_lag_seconds", source=FLOWS) == 3720
    assert value("keibi_deliveries_total", target="hook") == 1
    assert value("keibi_deliveries_total", target="slack") == 0
    assert value("keibi_deliveries_pending", target="hook", retrying="false") == 1
    assert value("keibi_deliveries_pending", target="hook", retrying="true") == 1
    assert value("keibi_deliveries_pending", target="slack", retrying="false") == 1
    assert value("keibi_dead_letters", target="hook") == 1
    assert value("keibi_dead_letters", target="slack") == 0
    sources = {dict(labels)["source"] for name, labels in got if name.startswith("keibi_watch")}
    assert sources == {TRAIL, FLOWS}  # the file a scan read belongs to no watched source


def test_the_collector_reads_the_store_at_each_scrape(store: Store) -> None:
    registry = CollectorRegistry()
    registry.register(StatusCollector(store, clock=lambda: NOW))
    assert b"keibi_watch_files_total{" not in generate_latest(registry)
    _fill(store)
    assert b'keibi_watch_files_total{source="dir:/var/log/flows",state="DONE"} 1.0' in generate_latest(
        registry
    )


def test_read_status_as_json(store: Store) -> None:
    _fill(store)
    _deliveries(store)
    status = read_status(store, NOW).as_json()
    assert status["at"] == "2024-05-01T12:00:00Z"
    trail = status["sources"][1]
    assert trail["source"] == TRAIL
    assert (trail["files"], trail["lateFiles"], trail["failedFiles"], trail["lagSeconds"]) == (4, 1, 1, 300.0)
    assert trail["newestEventAt"] == "2024-05-01T11:55:00Z"
    hook = status["targets"][0]
    assert hook == {
        "target": "hook",
        "delivered": 1,
        "pending": 2,
        "retrying": 1,
        "deadLetters": 1,
        "oldestPendingAt": "2024-05-01T11:30:00Z",
        "lastError": "HTTP 400 from hook.example: bad",  # the latest failure (given up), not the 503
    }
