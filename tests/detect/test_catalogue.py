"""The registry against GuardDuty's catalogue (``shared/reference/finding_types.json``):
every emitted type is active there with the same severity label, data sources, resource
type, detection kind and action type, or is marked custom."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keibi.detect import FindingType, detectors
from keibi.detect.catalogue import coverage

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "finding_types.json"
SHIPPED = Path(__file__).resolve().parents[2] / "keibi" / "detect" / "data" / "finding_types.json"

REGISTRY = detectors.load()
EMITTED = [(d.id, t) for d in REGISTRY for t in d.emits]


def _catalogue() -> dict[str, dict[str, object]]:
    data = json.loads(REFERENCE.read_text())
    return {t["type"]: t for t in data["finding_types"]}


def test_shipped_catalogue_is_the_reference() -> None:
    assert json.loads(SHIPPED.read_text()) == json.loads(REFERENCE.read_text())


@pytest.mark.parametrize(("detector_id", "ftype"), EMITTED, ids=[t.type for _, t in EMITTED])
def test_emitted_type_matches_catalogue(detector_id: str, ftype: FindingType) -> None:
    if ftype.custom:
        assert ftype.type not in _catalogue()
        return
    entry = _catalogue()[ftype.type]
    assert entry["status"] == "active"
    assert entry["severity"]["label"] == ftype.severity.label  # type: ignore[index]
    assert tuple(entry["data_sources"]) == ftype.data_sources  # type: ignore[arg-type]
    assert entry["resource_type"] == ftype.resource_type
    assert entry["detection"] == ftype.detection
    assert entry["action_type"] == ftype.action_type
    assert ftype.title and ftype.description


def test_detector_ids_match_their_modules() -> None:
    for det in REGISTRY:
        family, name = det.id.split(".")
        assert det.fn.__module__ == f"keibi.detect.{family}.{name}"


def test_coverage_is_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    report = coverage(REGISTRY, REFERENCE)
    assert report["total"] == 88
    implemented = {r["type"] for r in report["types"] if r["detector"]}
    assert implemented == {t.type for _, t in EMITTED if not t.custom}
    with capsys.disabled():
        print(f"\nGuardDuty catalogue coverage: {report['implemented']}/{report['total']}")
    assert report["implemented"] >= 12


@pytest.mark.parametrize(("detector_id", "ftype"), EMITTED, ids=[t.type for _, t in EMITTED])
def test_every_type_has_hit_and_miss_samples(detector_id: str, ftype: FindingType) -> None:
    family, name = detector_id.split(".")
    samples = Path(__file__).resolve().parent / family / "samples" / name
    expected = json.loads((samples / "expected.json").read_text())
    hits = [f for f, found in expected.items() if any(h["type"] == ftype.type for h in found)]
    assert hits, f"no hit sample raises {ftype.type}"
    assert all((samples / f).is_file() for f in hits)
    assert sorted(samples.glob("miss_*")), f"no miss sample for {detector_id}"
