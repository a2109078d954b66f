"""Every tester scenario is detected by the whole ``scan`` pipeline, and the background
raises nothing: each finding is one scenario's type on that scenario's resource.

A scenario is asserted once a registered detector emits its type; until then it only has
to raise nothing else (``test_generate`` checks that every registered type has a scenario).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keibi.detect import detectors
from keibi.intel import Intel, load_feed, load_txt
from keibi.pipeline import scan
from keibi.store import Store
from keibi.tester import Manifest, Scenario, generate
from keibi.tester.lists import INTEL_FEEDS

INTEL_CATEGORIES = {category for category, _ in INTEL_FEEDS}


REALISTIC_SCALE = 5.0
"""A scale at which every source's benign background is at least 100 times its attack records."""


@pytest.fixture(scope="module", params=[(7, 0.5), (11, REALISTIC_SCALE)], ids=["scale-0.5", "realistic"])
def out(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> tuple[Path, Manifest]:
    seed, scale = request.param
    root = tmp_path_factory.mktemp("scenarios")
    return root, generate(root, seed=seed, scale=scale)


def test_the_realistic_background_outweighs_the_attacks_a_hundredfold(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The issue's bar: each scenario at realistic scale, hidden in 100 times as much benign traffic."""
    manifest = generate(tmp_path_factory.mktemp("ratio"), seed=11, scale=REALISTIC_SCALE)
    attack: dict[str, int] = {}
    benign: dict[str, int] = {}
    for s in manifest.scenarios:
        attack[s.source] = attack.get(s.source, 0) + s.records
    for b in manifest.background:
        for source in b.source.split("+"):
            benign[source] = benign.get(source, 0) + b.records
    assert set(attack) == {"cloudtrail", "vpc_flow", "dns"}
    assert {
        source: benign.get(source, 0) // n for source, n in attack.items() if benign.get(source, 0) < 100 * n
    } == {}


def _resource_ids(finding: dict[str, Any]) -> set[str]:
    resource = finding["resource"]
    instance = resource.get("instanceDetails", {})
    keys = resource.get("accessKeyDetails", {})
    return {
        str(v)
        for v in (
            instance.get("instanceId"),
            *(eni.get("networkInterfaceId") for eni in instance.get("networkInterfaces", [])),
            keys.get("accessKeyId"),
            keys.get("principalId"),
            keys.get("userName"),
            *(bucket.get("name") for bucket in resource.get("s3BucketDetails", [])),
        )
        if v
    }


def _matches(scenario: Scenario, finding: dict[str, Any]) -> bool:
    return scenario.finding_type == finding["type"] and bool(
        _resource_ids(finding) & {scenario.resource_id, *scenario.key.values()}
    )


def test_scan_finds_every_scenario_and_nothing_else(out: tuple[Path, Manifest], tmp_path: Path) -> None:
    root, manifest = out
    assert {category for category, _ in manifest.feeds} == {"Tor", "Malicious", *INTEL_CATEGORIES}
    intel = Intel.with_builtin_feeds(
        threat=[load_txt(root / manifest.threat_list)],
        trusted=[load_txt(root / manifest.trusted_list, kind="trusted")],
        feeds=[load_feed(root / path, category) for category, path in manifest.feeds],
    )
    with Store.for_data_dir(tmp_path) as store:
        result = scan([str(root / "AWSLogs")], store, intel=intel)
    assert result.report.error_count == 0, result.report.errors[:5]
    assert result.report.records == dict(manifest.records)
    unexpected = [
        (f["type"], sorted(_resource_ids(f)))
        for f in result.findings
        if not any(_matches(s, f) for s in manifest.scenarios)
    ]
    assert unexpected == [], "the background raised findings"
    registered = set(detectors.load().finding_types())
    expected = [s for s in manifest.scenarios if s.finding_type in registered]
    missed = [s.name for s in expected if not any(_matches(s, f) for f in result.findings)]
    assert missed == []
    assert len(result.findings) == len(expected)
