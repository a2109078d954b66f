"""A month of history through the whole ``scan`` pipeline: every anomaly scenario raises its type
on its resource, and the benign month raises no behaviour finding (its false-positive count is
in the assertion message), including the look-alikes of each scenario inside the baseline.

Generated and scanned once per module (hourly files: the same records as AWS's five-minute
deliveries, a twelfth of the files); the timings are printed with ``-s``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from keibi.findings import validate
from keibi.pipeline import ScanResult
from keibi.store import FindingQuery, Store
from keibi.tester import HistoryManifest, generate_history
from keibi.tester.history_score import score
from tests.helpers import essence, scan_result

SEED = 11
DAYS = 30


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("history-scan")


@pytest.fixture(scope="module")
def scanned(root: Path) -> tuple[HistoryManifest, ScanResult, dict[str, float]]:
    t0 = time.perf_counter()
    manifest = generate_history(root, seed=SEED, days=DAYS, delivery_minutes=60)
    t1 = time.perf_counter()
    result = scan_result([root / "AWSLogs"])
    t2 = time.perf_counter()
    timings = {"generate": t1 - t0, "scan": t2 - t1}
    print(
        f"\nhistory: {manifest.records} records, {manifest.files} files; generate {t1 - t0:.1f} s, scan {t2 - t1:.1f} s"
    )
    return manifest, result, timings


def test_the_scan_reads_everything(scanned: tuple[HistoryManifest, ScanResult, dict[str, float]]) -> None:
    manifest, result, _ = scanned
    assert result.report.error_count == 0, result.report.errors[:5]
    assert {k: v for k, v in result.report.records.items() if v} == dict(manifest.records)
    for finding in result.findings:
        validate(finding)


def test_every_scenario_is_found_on_its_resource(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    manifest, result, _ = scanned
    missed = score(manifest, result.findings).missed
    assert missed == [], f"{len(missed)} of {len(manifest.scenarios)} scenarios missed: {missed}"


def test_the_benign_month_raises_no_behaviour_finding(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    """A behaviour finding on no scenario's resource is a false positive; so is any finding on
    a look-alike's resource of the type it resembles."""
    manifest, result, _ = scanned
    scored = score(manifest, result.findings)
    false, twins = scored.false_positives, scored.twins
    assert false == [] and twins == [], (
        f"{len(false)} false positives on benign activity: {false}; twins: {twins}"
    )


def test_the_benign_month_raises_nothing_else_either(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    """Other detectors stay quiet on the benign month too: only attacked resources have findings."""
    manifest, result, _ = scanned
    others = score(manifest, result.findings).others
    assert others == [], f"{len(others)} findings on benign resources"


def test_generation_and_scan_fit_a_test(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    manifest, _, timings = scanned
    assert manifest.records["cloudtrail"] <= 400_000 and manifest.records["vpc_flow"] <= 600_000
    assert sum(timings.values()) < 120, timings  # about 15 s on two idle cores; generous for busy machines


def _day(path: Path) -> int:
    """The day of month of a delivered log file, from its ``…/YYYY/MM/DD/…`` key."""
    parts = path.parts
    year = next(i for i, part in enumerate(parts) if len(part) == 4 and part.isdigit())
    return int(parts[year + 2])


def test_a_backfill_stopped_mid_month_and_resumed_finds_the_same(
    root: Path, scanned: tuple[HistoryManifest, ScanResult, dict[str, float]], tmp_path: Path
) -> None:
    """The month read in two scans (stopped after day 15, resumed on the same store) gives
    every finding of the single scan with the same id, count and first and last times: the
    profiles learned before the stop carry the baseline into the resumed scan."""
    _, whole, _ = scanned
    files = sorted(p for p in (root / "AWSLogs").rglob("*") if p.is_file())
    store = Store.for_data_dir(tmp_path)
    try:
        scan_result([p for p in files if _day(p) <= 15], store=store)
        scan_result([p for p in files if _day(p) > 15], store=store)
        resumed = store.list_findings(FindingQuery(limit=100_000))
    finally:
        store.close()
    assert essence(resumed) == essence(whole.findings)
