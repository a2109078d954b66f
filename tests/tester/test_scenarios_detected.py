"""Every tester scenario is detected, and the background raises nothing.

Two levels: the detectors on the parsed and enriched logs (runs as soon as sources, intel,
enrich and detect exist), and the whole ``scan`` pipeline with findings and the store
(skipped until ``keibi.pipeline`` imports).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from keibi.tester import Manifest, Scenario, generate


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("scenarios")
    return root, generate(root, seed=7, scale=0.5)


def _matches(scenario: Scenario, finding_type: str, key_parts: set[str]) -> bool:
    return scenario.finding_type == finding_type and bool(
        key_parts & {scenario.resource_id, *scenario.key.values()}
    )


def test_detectors_hit_every_scenario_and_nothing_else(out: tuple[Path, Manifest]) -> None:
    from keibi.detect import ROW, DetectContext, DetectSettings, detectors
    from keibi.enrich import enrich
    from keibi.intel import Intel, load_txt
    from keibi.sources import Report, plan, read

    root, manifest = out
    intel = Intel.with_builtin_feeds(
        threat=[load_txt(root / manifest.threat_list)],
        trusted=[load_txt(root / manifest.trusted_list, kind="trusted")],
    )
    report = Report()
    frames: dict[str, list[pl.DataFrame]] = {}
    for item in plan([str(root / "AWSLogs")], report):
        for frame in read(item, report):
            frames.setdefault(item.source, []).append(frame)
    assert report.error_count == 0, report.errors[:5]
    assert {s: sum(f.height for f in fs) for s, fs in frames.items()} == dict(manifest.records)

    ctx = DetectContext(settings=DetectSettings())
    hits = []
    for source, parts in frames.items():
        batch = enrich(pl.concat(parts, how="vertical"), source, intel)  # type: ignore[arg-type]
        for det in detectors.load().for_source(source):  # type: ignore[arg-type]
            rows = batch if det.prefilter is None else batch.filter(det.prefilter)
            found = det(rows.with_row_index(ROW), ctx)
            hits += [(t, set(k.split("|"))) for t, k in found.select("type", "key").iter_rows()]

    unexpected = [h for h in hits if not any(_matches(s, *h) for s in manifest.scenarios)]
    assert unexpected == [], "background raised hits"
    missed = [s.name for s in manifest.scenarios if not any(_matches(s, *h) for h in hits)]
    assert missed == []


def test_scan_finds_every_scenario_and_nothing_else(out: tuple[Path, Manifest], tmp_path: Path) -> None:
    try:
        from keibi.intel import Intel, load_txt
        from keibi.pipeline import scan
        from keibi.store import Store
    except ImportError as exc:
        pytest.skip(f"the scan pipeline is not importable yet: {exc}")
    root, manifest = out
    intel = Intel.with_builtin_feeds(
        threat=[load_txt(root / manifest.threat_list)],
        trusted=[load_txt(root / manifest.trusted_list, kind="trusted")],
    )
    store = Store.for_data_dir(tmp_path)
    try:
        findings = scan([str(root / "AWSLogs")], store, intel=intel).findings
    finally:
        store.close()
    assert sorted(f["type"] for f in findings) == sorted(s.finding_type for s in manifest.scenarios)
