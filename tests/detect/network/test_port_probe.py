"""Recon:EC2/PortProbeUnprotectedPort and PortProbeEMRUnprotectedPort on VPC flow log samples
(v2 default format and custom v5), and the findings they build."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.detect.network import port_probe
from keibi.findings import build_findings, decode_info, validate
from tests.detect._frames import check, intel_for, parsed, run, sample_dir, samples

DETECTOR = "network.port_probe"
FOLDER = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def _findings(name: str, settings: DetectSettings | None = None) -> dict[str, dict[str, Any]]:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(FOLDER / name, intel_for(FOLDER))
    assert det.prefilter is not None
    frame = batch.filter(det.prefilter).with_row_index(ROW)
    found = det(frame, DetectContext(settings=settings or DetectSettings()))
    records = build_findings(
        found,
        frame,
        "vpc_flow",
        detectors.finding_types(),
        now=datetime(2023, 11, 15, tzinfo=UTC),
        detector=DETECTOR,
    )
    for record in records:
        validate(record.finding)
    return {r.finding["type"].split("/")[1]: r.finding for r in records}


def test_every_prober_is_a_port_probe_detail() -> None:
    finding = _findings("hit_ssh_probed_by_many_hosts.log")["PortProbeUnprotectedPort"]
    probe = finding["service"]["action"]["portProbeAction"]
    assert probe["blocked"] is False
    assert len(probe["portProbeDetails"]) == 12
    first = probe["portProbeDetails"][0]
    assert first["localPortDetails"] == {"port": 22, "portName": "SSH"}
    assert first["localIpDetails"] == {"ipAddressV4": "172.31.40.4"}
    assert "198.51.100.30" not in {d["remoteIpDetails"]["ipAddressV4"] for d in probe["portProbeDetails"]}
    info = decode_info(finding)
    assert "portProbes" not in info  # only in portProbeDetails
    assert (info["probedPorts"], info["probingHosts"], info["knownScanners"]) == ([22], 12, 0)
    assert finding["service"]["resourceRole"] == "TARGET"
    assert finding["severity"] == 2.0
    assert finding["title"] == "Unprotected port on EC2 instance eni-0d1b2c3d4e5f60021 is being probed."
    assert "evidence" not in finding["service"]


def test_a_known_scanner_on_elasticsearch_is_high_and_named() -> None:
    finding = _findings("hit_elasticsearch_known_scanner_v5.log")["PortProbeUnprotectedPort"]
    assert finding["severity"] == 8.0
    assert finding["resource"]["instanceDetails"]["instanceId"] == "i-0e1a5c0ffee000022"
    details = finding["service"]["action"]["portProbeAction"]["portProbeDetails"]
    # the known scanner first, on both Elasticsearch ports; then the unlisted host
    assert [(d["localPortDetails"]["port"], d["remoteIpDetails"]["ipAddressV4"]) for d in details] == [
        (9200, "198.51.100.66"),
        (9300, "198.51.100.66"),
        (9200, "89.161.117.132"),
    ]
    assert finding["service"]["evidence"] == {
        "threatIntelligenceDetails": [{"threatListName": "feed.Malicious", "threatNames": ["Malicious"]}]
    }


def test_the_emr_finding_names_the_cluster_port_that_showed_the_node() -> None:
    found = _findings("hit_emr_master_yarn_and_ssh.log")
    emr = found["PortProbeEMRUnprotectedPort"]
    assert decode_info(emr)["clusterPort"] == 8020
    assert emr["severity"] == 8.0
    assert {
        d["localPortDetails"]["port"] for d in emr["service"]["action"]["portProbeAction"]["portProbeDetails"]
    } == {8088}
    assert "an EMR cluster node (cluster traffic on port 8020)" in emr["description"]
    ssh = found["PortProbeUnprotectedPort"]  # port 22 is not EMR-sensitive
    assert "clusterPort" not in decode_info(ssh)


def test_probers_listed_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(port_probe, "MAX_PROBE_DETAILS", 5)
    info = json.loads(run(DETECTOR, FOLDER / "hit_ssh_probed_by_many_hosts.log")["info"][0])
    assert info["probingHosts"] == 12
    assert len(info["portProbes"]) == 5


def test_thresholds_are_the_settings() -> None:
    path = FOLDER / "hit_ssh_probed_by_many_hosts.log"
    assert run(DETECTOR, path, settings=DetectSettings(port_probe_min_sources=13)).is_empty()
    # three of the twelve knocked twice: allowing one attempt per host leaves nine probers
    once = run(DETECTOR, path, settings=DetectSettings(port_probe_max_attempts=1))
    assert json.loads(once["info"][0])["probingHosts"] == 9
    few = FOLDER / "miss_few_knocks_on_rdp.log"
    assert not run(DETECTOR, few, settings=DetectSettings(port_probe_min_sources=4)).is_empty()
    # the health checkers connect 90 times each: only the attempt limit keeps them quiet
    checks = FOLDER / "miss_route53_health_checkers.log"
    assert not run(DETECTOR, checks, settings=DetectSettings(port_probe_max_attempts=90)).is_empty()


def test_a_probe_split_across_windows_stays_below_the_threshold() -> None:
    # 12 knocks spread over 45 minutes: five-minute windows never hold five probers
    short = DetectSettings(port_probe_window=timedelta(minutes=5))
    assert run(DETECTOR, FOLDER / "hit_ssh_probed_by_many_hosts.log", settings=short).is_empty()
