"""Store: upsert with aggregation, evidence, queries, archiving; on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from keibi.detect import hits
from keibi.errors import StoreError
from keibi.findings import Evidence, FindingRecord, build_findings, decode_info, validate
from keibi.store import EVIDENCE_KEPT, FindingQuery, Store
from keibi.store import engine as engines
from tests.dbs import sqlite_url
from tests.findings._batches import BAD_IP, MINING, NOW, T0, TYPES, batch, record


def test_new_findings_are_stored_and_read_back(store: Store) -> None:
    a, b = record("a", count=2), record("b")
    stored = store.upsert_findings([a, b])
    assert stored == [a.finding, b.finding]
    assert store.get_findings([b.id, "nope", a.id, b.id]) == [b.finding, a.finding]
    for f in store.get_findings([a.id]):
        validate(f)
    assert store.evidence(a.id) == a.evidence
    assert store.evidence("nope") == []


def test_repeats_merge_into_one_finding(store: Store) -> None:
    first = record("a", minutes=10, count=3)
    store.upsert_findings([first])
    (merged,) = store.upsert_findings([record("a", minutes=40, count=2, source_ip="192.0.2.44")])
    assert merged["id"] == first.id
    assert merged["service"]["count"] == 5
    assert merged["createdAt"] == first.finding["createdAt"]
    assert merged["updatedAt"] == "2026-11-24T12:40:00.000Z"
    assert merged["service"]["action"]["awsApiCallAction"]["remoteIpDetails"] == {"ipAddressV4": "192.0.2.44"}
    assert store.get_findings([first.id]) == [merged]
    assert [e.event_id for e in store.evidence(first.id)] == [
        "ev-0008",
        "ev-0009",
        "ev-0010",
        "ev-0039",
        "ev-0040",
    ]
    (only,) = store.list_findings(FindingQuery())
    assert only["service"]["count"] == 5


def test_records_with_the_same_id_in_one_call_are_merged(store: Store) -> None:
    stored = store.upsert_findings([record("a", minutes=5), record("b"), record("a", minutes=9, count=2)])
    assert [f["service"]["count"] for f in stored] == [3, 1]
    assert [f["service"]["count"] for f in store.get_findings([stored[0]["id"]])] == [3]
    assert decode_info(stored[0])["keibi"]["evidenceCount"] == 3
    assert len(store.evidence(stored[0]["id"])) == 3


def test_evidence_keeps_the_newest_thousand(store: Store) -> None:
    base = record("a")
    many = [
        Evidence(file="flows.log", line=i, event_id=None, event_time=T0 + timedelta(seconds=i))
        for i in range(EVIDENCE_KEPT + 150)
    ]
    store.upsert_findings([FindingRecord(base.finding, many[:700])])
    store.upsert_findings([FindingRecord(base.finding, many[700:])])
    kept = store.evidence(base.id)
    assert len(kept) == EVIDENCE_KEPT
    assert kept[0].line == 150 and kept[-1].line == EVIDENCE_KEPT + 149
    assert kept[0].event_time == T0 + timedelta(seconds=150)
    assert kept[0].event_time.tzinfo is not None


def _flows_and_dns() -> list[FindingRecord]:
    frame = batch(
        "vpc_flow",
        [
            {
                "event_time": T0,
                "interface_id": "eni-1",
                "instance_id": "i-1",
                "srcaddr": "10.0.0.1",
                "dstaddr": "198.51.100.7",
                "srcport": 40000,
                "dstport": 443,
                "protocol": 6,
                "action": "ACCEPT",
            },
            {
                "event_time": T0 + timedelta(hours=2),
                "interface_id": "eni-2",
                "srcaddr": "10.0.0.2",
                "dstaddr": "198.51.100.7",
                "srcport": 40000,
                "dstport": 443,
                "protocol": 6,
                "action": "ACCEPT",
            },
        ],
    )
    found = hits(
        frame, BAD_IP, key=("interface_id",), severity=pl.when(pl.col("_row") == 0).then(8.0).otherwise(5.0)
    )
    flows = build_findings(found, frame, "vpc_flow", TYPES, now=NOW)
    queries = batch(
        "dns",
        [
            {
                "event_time": T0 + timedelta(hours=1),
                "query_name": "pool.nanopool.org.",
                "instance_id": "i-9",
                "srcaddr": "10.0.0.9",
                "transport": "UDP",
            }
        ],
    )
    dns = build_findings(
        hits(queries, MINING, key=("instance_id",), severity=9.5), queries, "dns", TYPES, now=NOW
    )
    return [*flows, *dns]


@pytest.fixture
def filled(store: Store) -> Store:
    store.upsert_findings([*_flows_and_dns(), record("root", minutes=30, account="444455556666")])
    return store


def _types(found: list[dict]) -> list[tuple[str, float]]:  # type: ignore[type-arg]
    return [(f["type"].split("/")[1], f["severity"]) for f in found]


def test_list_sorts_by_severity_then_update(filled: Store) -> None:
    assert _types(filled.list_findings(FindingQuery())) == [
        ("BitcoinTool.B!DNS", 9.5),
        ("MaliciousIPCaller.Custom", 8.0),
        ("MaliciousIPCaller.Custom", 5.0),
        ("RootCredentialUsage", 2.0),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (FindingQuery(severity="critical"), [("BitcoinTool.B!DNS", 9.5)]),
        (FindingQuery(severity="high"), [("MaliciousIPCaller.Custom", 8.0)]),
        (FindingQuery(severity="medium"), [("MaliciousIPCaller.Custom", 5.0)]),
        (FindingQuery(severity="low"), [("RootCredentialUsage", 2.0)]),
        (FindingQuery(types=("Policy:IAMUser/RootCredentialUsage", "x")), [("RootCredentialUsage", 2.0)]),
        (FindingQuery(account_ids=("444455556666",)), [("RootCredentialUsage", 2.0)]),
        (FindingQuery(resource_ids=("i-1",)), [("MaliciousIPCaller.Custom", 8.0)]),
        (
            FindingQuery(resource_ids=("eni-2", "i-9")),
            [("BitcoinTool.B!DNS", 9.5), ("MaliciousIPCaller.Custom", 5.0)],
        ),
        (FindingQuery(resource_ids=("Root",)), [("RootCredentialUsage", 2.0)]),
        (FindingQuery(resource_ids=("ASIAEXAMPLEROOT",)), [("RootCredentialUsage", 2.0)]),
        (FindingQuery(resource_ids=("nothing",)), []),
        (
            FindingQuery(since=T0 + timedelta(hours=1)),
            [("BitcoinTool.B!DNS", 9.5), ("MaliciousIPCaller.Custom", 5.0)],
        ),
        (
            FindingQuery(until=T0 + timedelta(hours=1)),
            [("MaliciousIPCaller.Custom", 8.0), ("RootCredentialUsage", 2.0)],
        ),
        (
            FindingQuery(since=T0 + timedelta(minutes=30), until=T0 + timedelta(minutes=31)),
            [("RootCredentialUsage", 2.0)],
        ),
        (FindingQuery(limit=2), [("BitcoinTool.B!DNS", 9.5), ("MaliciousIPCaller.Custom", 8.0)]),
    ],
)
def test_list_filters(filled: Store, query: FindingQuery, expected: list[tuple[str, float]]) -> None:
    assert _types(filled.list_findings(query)) == expected


def test_since_accepts_other_time_zones(filled: Store) -> None:
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    assert len(filled.list_findings(FindingQuery(since=tokyo + timedelta(hours=1, minutes=59)))) == 1


def test_archived_findings_are_hidden_by_default(filled: Store) -> None:
    (dns,) = filled.list_findings(FindingQuery(severity="critical"))
    assert filled.set_archived([dns["id"], "nope"]) == 1
    assert filled.set_archived([dns["id"]]) == 0
    assert len(filled.list_findings(FindingQuery())) == 3
    (archived,) = filled.list_findings(FindingQuery(archived=True))
    assert archived["service"]["archived"] is True
    assert len(filled.list_findings(FindingQuery(archived=None))) == 4
    # a later occurrence keeps it archived
    again = _flows_and_dns()[-1]
    (merged,) = filled.upsert_findings([again])
    assert merged["service"]["archived"] is True and merged["service"]["count"] == 2
    assert filled.set_archived([dns["id"]], archived=False) == 1
    assert len(filled.list_findings(FindingQuery())) == 4


def test_two_stores_on_one_database_see_each_other(db_url: str) -> None:
    with Store(db_url) as one, Store(db_url) as two:
        one.upsert_findings([record("a")])
        two.upsert_findings([record("a", minutes=3)])
        (f,) = one.list_findings(FindingQuery())
        assert f["service"]["count"] == 2


def test_sqlite_reads_do_not_wait_for_a_writer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines, "SQLITE_BUSY_MS", 200)
    with Store(sqlite_url(tmp_path)) as store:
        store.upsert_findings([record("a")])
        writer = sqlite3.connect(tmp_path / "keibi-test.db", isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
            assert len(store.list_findings(FindingQuery())) == 1
            assert len(store.evidence(record("a").id)) == 1
            with pytest.raises(StoreError, match=r"cannot store findings: database is locked"):
                store.upsert_findings([record("b")])
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        assert len(store.upsert_findings([record("b")])) == 1
