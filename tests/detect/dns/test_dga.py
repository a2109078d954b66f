"""Trojan:EC2/DGADomainRequest.B on Route 53 Resolver query log samples."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.detect.dns import dga
from keibi.detect.dns._dga_model import dga_model
from keibi.findings import build_findings, validate
from tests.detect._frames import check, intel_for, parsed, run, sample_dir, samples

DETECTOR = "dns.dga"
FOLDER = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_counts_the_domains_and_explains_the_latest() -> None:
    found = check(DETECTOR, FOLDER / "hit_necurs_nxdomain_burst.jsonl")
    info = json.loads(found["info"][0])
    assert info["dgaDomains"] == 30
    assert info["dgaMinDomains"] == 10
    assert info["windowMinutes"] == 60
    assert len(info["sampleDomains"]) == 5
    assert info["dgaThreshold"] == dga_model().threshold
    assert info["dgaProbability"] >= info["dgaThreshold"]
    features = info["dgaFeatures"]
    assert 1 <= len(features) <= 3
    assert all(f["contribution"] > 0 for f in features)
    assert [f["contribution"] for f in features] == sorted(
        (f["contribution"] for f in features), reverse=True
    )
    assert {f["feature"] for f in features} <= set(dga_model().features)


def test_threshold_is_configurable() -> None:
    path = FOLDER / "hit_necurs_nxdomain_burst.jsonl"
    assert run(DETECTOR, path, settings=DetectSettings(dga_min_domains=31)).is_empty()
    assert run(DETECTOR, path, settings=DetectSettings(dga_min_domains=30)).height == 1


def test_window_is_event_time() -> None:
    """The burst spans ten minutes: in five-minute windows neither half reaches 30 domains."""
    path = FOLDER / "hit_necurs_nxdomain_burst.jsonl"
    short = DetectSettings(dga_window=timedelta(minutes=5), dga_min_domains=30)
    assert run(DETECTOR, path, settings=short).is_empty()
    assert run(DETECTOR, path, settings=replace(short, dga_min_domains=10)).height == 1


def _findings(name: str) -> list[dict[str, Any]]:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(FOLDER / name, intel_for(FOLDER))
    assert det.prefilter is not None
    frame = batch.filter(det.prefilter).with_row_index(ROW)
    found = det(frame, DetectContext())
    records = build_findings(
        found,
        frame,
        "dns",
        detectors.finding_types(),
        now=datetime(2026, 3, 10, tzinfo=UTC),
        detector=DETECTOR,
    )
    for r in records:
        validate(r.finding)
    return [r.finding for r in records]


def test_finding_is_guardduty_shaped() -> None:
    (finding,) = _findings("hit_cryptolocker_blocked_by_firewall.jsonl")
    assert finding["type"] == "Trojan:EC2/DGADomainRequest.B"
    assert finding["severity"] == 8.0
    request = finding["service"]["action"]["dnsRequestAction"]
    assert request["blocked"] is True
    assert request["domain"] == request["domainWithSuffix"]
    assert request["domain"] in finding["description"]
    assert finding["resource"]["instanceDetails"]["instanceId"] == "i-0c2d3e4f5a6b7c8d9"
    assert finding["service"]["resourceRole"] == "ACTOR"
    assert finding["service"]["count"] == 19


def test_docstring_states_the_shipped_threshold() -> None:
    assert f"probability {dga_model().threshold}" in (dga.__doc__ or "")
