"""The engine's promise: findings (ids, counts, event-time spans) do not depend on batch size
(windowed detectors see each row once inside its closed event-time window) nor on whether
files are parsed in worker processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keibi.store import FindingQuery, Store
from keibi.tester import generate
from tests.dbs import postgres_url
from tests.helpers import essence, scan_findings, scan_result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=11, scale=0.2)
    return out


def _scan(demo: Path, batch_rows: int, parse_workers: int = 0) -> list[dict[str, Any]]:
    return scan_findings(
        [demo / "AWSLogs"],
        threat_lists=[demo / "lists" / "threat.txt"],
        trusted_lists=[demo / "lists" / "trusted.txt"],
        batch_rows=batch_rows,
        parse_workers=parse_workers,
    )


def test_findings_do_not_depend_on_batch_size(demo: Path) -> None:
    assert essence(_scan(demo, 1_000)) == essence(_scan(demo, 250_000))


def test_findings_held_in_memory_or_stored_at_once_are_the_same(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The engine holds finding records and stores them a few thousand at a time; storing
    every detector call's records at once (the threshold at 1) gives the same findings."""
    held = essence(_scan(demo, 5_000))
    monkeypatch.setattr("keibi.pipeline.PENDING_RECORDS", 1)
    assert essence(_scan(demo, 5_000)) == held


def test_worker_processes_change_nothing(demo: Path) -> None:
    """Files parsed ahead in worker processes give exactly the findings of a sequential read."""
    sequential = essence(_scan(demo, 5_000))
    assert len(sequential) >= 10
    assert essence(_scan(demo, 5_000, parse_workers=2)) == sequential


def test_postgres_store_gives_the_sqlite_findings_and_reads_each_file_once(demo: Path) -> None:
    """The same scan into the real PostgreSQL finds what SQLite finds. Scanning the same logs
    again reads nothing (each file once); ``rescan`` reads them again and updates the same
    findings (same ids, counts doubled) instead of adding any."""
    expected = essence(_scan(demo, 250_000))
    lists = {
        "threat_lists": [demo / "lists" / "threat.txt"],
        "trusted_lists": [demo / "lists" / "trusted.txt"],
    }
    with postgres_url() as url:
        store = Store(url)
        try:
            first = scan_findings([demo / "AWSLogs"], store=store, **lists)
            assert essence(first) == expected
            repeat = scan_result([demo / "AWSLogs"], store=store, **lists)
            assert repeat.findings == []
            assert repeat.already_scanned > 0
            assert sum(repeat.report.files.values()) == 0
            again = scan_findings([demo / "AWSLogs"], store=store, rescan=True, **lists)
            assert sorted((f["id"], f["service"]["count"]) for f in again) == sorted(
                (f["id"], 2 * f["service"]["count"]) for f in first
            )
            assert len(store.list_findings(FindingQuery())) == len(first)
        finally:
            store.close()


def test_a_scan_keeps_big_match_tables_and_the_next_scan_reads_them(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Match tables of big versioned lists are built while the first files are read and kept
    in the store; a later scan with the same lists reads them and finds the same."""
    from dataclasses import replace

    from keibi.intel import Intel, ThreatListMatcher
    from keibi.intel.lists import load_txt
    from keibi.intel.lookup import CACHE_MIN_ENTRIES
    from keibi.intel.match import matcher_key
    from keibi.pipeline import scan

    filler = "\n".join(f"100.{i >> 16 & 63}.{i >> 8 & 255}.{i & 255}" for i in range(CACHE_MIN_ENTRIES))
    big = tmp_path / "big.txt"
    big.write_text((demo / "lists" / "threat.txt").read_text() + "\n" + filler + "\n")
    threat = [replace(load_txt(big), version="big-v1")]
    trusted = [load_txt(demo / "lists" / "trusted.txt", kind="trusted")]
    store = Store.for_data_dir(tmp_path / "data")
    try:
        first = scan(
            [str(demo / "AWSLogs")], store, intel=Intel.with_builtin_feeds(threat=threat, trusted=trusted)
        )
        key = matcher_key(threat)
        assert key is not None and store.cached_matcher(key) is not None

        def no_build(_lists: object) -> ThreatListMatcher:
            raise AssertionError("built again although the store holds the tables")

        built = ThreatListMatcher.build
        monkeypatch.setattr(
            ThreatListMatcher,
            "build",
            staticmethod(lambda lists: no_build(lists) if tuple(lists) == tuple(threat) else built(lists)),
        )
        again = scan(
            [str(demo / "AWSLogs")],
            store,
            intel=Intel.with_builtin_feeds(threat=threat, trusted=trusted),
            rescan=True,
        )
    finally:
        store.close()
    assert first.findings and sorted(f["id"] for f in again.findings) == sorted(
        f["id"] for f in first.findings
    )
