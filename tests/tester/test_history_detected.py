"""A month of history through the whole ``scan`` pipeline: every anomaly scenario raises its type
on its resource, and the benign month raises no behaviour finding (its false-positive count is
in the assertion message), including the look-alikes of each scenario inside the baseline.

Generated and scanned once per module (hourly files: the same records as AWS's five-minute
deliveries, a twelfth of the files); the timings are printed with ``-s``.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest

from keibi.findings import validate
from keibi.pipeline import ScanResult
from keibi.tester import HistoryManifest, Scenario, generate_history
from keibi.tester.history_scenarios import BEHAVIOR_TYPES
from tests.helpers import scan_result

SEED = 11
DAYS = 30


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> tuple[HistoryManifest, ScanResult, dict[str, float]]:
    root = tmp_path_factory.mktemp("history-scan")
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


def _ids(finding: dict[str, Any]) -> set[str]:
    resource = finding["resource"]
    instance = resource.get("instanceDetails", {})
    keys = resource.get("accessKeyDetails", {})
    return {
        str(v)
        for v in (
            instance.get("instanceId"),
            keys.get("accessKeyId"),
            keys.get("principalId"),
            keys.get("userName"),
            *(bucket.get("name") for bucket in resource.get("s3BucketDetails", [])),
        )
        if v
    }


def _on(scenario: Scenario, finding: dict[str, Any]) -> bool:
    """The finding is on the scenario's resource. A bucket is shared by benign callers, so an S3
    finding must also name the scenario's principal when it names one."""
    ids = _ids(finding)
    if scenario.resource_type == "S3Bucket":
        principal = finding["resource"].get("accessKeyDetails", {}).get("principalId")
        return scenario.resource_id in ids and (
            principal is None or principal == scenario.key.get("principal_id")
        )
    return bool(
        ids & ({scenario.resource_id} | set(scenario.key.values()) - {scenario.key.get("remote_ip", "")})
    )


def _describe(finding: dict[str, Any]) -> str:
    info = orjson.loads(finding["service"].get("additionalInfo", {}).get("value") or "{}")
    why = "; ".join(info.get("explanation") or [])[:300]
    return (
        f"{finding['type']} on {sorted(_ids(finding))} at {finding['service'].get('eventFirstSeen')}: {why}"
    )


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
    missed = [
        f"{s.finding_type} ({s.name}: {s.description})"
        for s in manifest.scenarios
        if not any(f["type"] == s.finding_type and _on(s, f) for f in result.findings)
    ]
    assert missed == [], f"{len(missed)} of {len(manifest.scenarios)} scenarios missed"


def test_the_benign_month_raises_no_behaviour_finding(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    """A behaviour finding on no scenario's resource is a false positive; so is any finding on
    a look-alike's resource of the type it resembles."""
    manifest, result, _ = scanned
    behaviour = [f for f in result.findings if f["type"] in BEHAVIOR_TYPES]
    false = [_describe(f) for f in behaviour if not any(_on(s, f) for s in manifest.scenarios)]
    twins = [
        f"{t.name}: {_describe(f)}"
        for t in manifest.twins
        for f in behaviour
        if f["type"] == t.finding_type and _on(t, f) and not any(_on(s, f) for s in manifest.scenarios)
    ]
    assert false == [] and twins == [], (
        f"{len(false)} false positives on benign activity: {false}; twins: {twins}"
    )


def test_the_benign_month_raises_nothing_else_either(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    """Other detectors stay quiet on the benign month too: only attacked resources have findings."""
    manifest, result, _ = scanned
    others = [_describe(f) for f in result.findings if not any(_on(s, f) for s in manifest.scenarios)]
    assert others == [], f"{len(others)} findings on benign resources"


def test_generation_and_scan_fit_a_test(
    scanned: tuple[HistoryManifest, ScanResult, dict[str, float]],
) -> None:
    manifest, _, timings = scanned
    assert manifest.records["cloudtrail"] <= 400_000 and manifest.records["vpc_flow"] <= 600_000
    assert sum(timings.values()) < 120, timings  # about 15 s on two idle cores; generous for busy machines
