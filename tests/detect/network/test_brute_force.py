"""SSH, RDP and WinRM brute force on VPC flow log samples (v2 and v5)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.intel import Intel
from tests.detect._frames import check, parsed, run, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "network.brute_force"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_only_request_records_are_evidence() -> None:
    found = check(DETECTOR, SAMPLES / "hit_ssh_inbound_guessing.log")
    # 60 records in the file: 30 guesses and 30 replies; the replies are not counted again.
    assert len(found["rows"][0]) == 30
    assert json.loads(found["info"][0])["connectionAttempts"] == 30


@pytest.mark.parametrize(
    ("sample", "attacker", "victim"),
    [
        ("hit_rdp_inbound_hydra.log", "198.51.100.23", "eni-0c1c2c3d4e5f60010"),
        ("hit_rdp_outbound_v5.log", "i-0badc0de000000011", "203.0.113.50"),
    ],
)
def test_info_says_who_attacks_whom(sample: str, attacker: str, victim: str) -> None:
    info = json.loads(check(DETECTOR, SAMPLES / sample)["info"][0])
    assert (info["attacker"], info["victim"]) == (attacker, victim)


@pytest.mark.parametrize(
    ("sample", "settings", "count"),
    [
        ("hit_rdp_inbound_hydra.log", DetectSettings(rdp_min_attempts=41), None),
        ("hit_winrm_outbound.log", DetectSettings(winrm_min_attempts=37), None),
        ("hit_ssh_outbound_guessing.log", DetectSettings(ssh_min_attempts=26), None),
        ("miss_winrm_public_management.log", DetectSettings(winrm_min_attempts=25), 25),
        ("miss_ssh_admin_sessions.log", DetectSettings(ssh_min_attempts=3), 3),
        ("miss_rdp_slow_guessing.log", DetectSettings(brute_force_window=timedelta(days=1)), 36),
    ],
)
def test_thresholds_and_window_are_the_settings(
    sample: str, settings: DetectSettings, count: int | None
) -> None:
    found = run(DETECTOR, SAMPLES / sample, settings=settings)
    assert found["count"].to_list() == ([] if count is None else [count])


def test_the_trusted_list_is_what_silences_the_pentester() -> None:
    _, batch = parsed(SAMPLES / "miss_rdp_trusted_pentester.log", Intel.with_builtin_feeds())
    det = detectors.load()[DETECTOR]
    assert det.prefilter is not None
    found = det(batch.filter(det.prefilter).with_row_index(ROW), DetectContext())
    assert found["type"].to_list() == ["UnauthorizedAccess:EC2/RDPBruteForce"]
    assert found["count"].to_list() == [60]


def test_findings_read_as_guardduty_writes_them() -> None:
    findings = scan_findings([SAMPLES / "hit_rdp_inbound_hydra.log", SAMPLES / "hit_winrm_outbound.log"])
    by_type = {f["type"]: f for f in findings}
    assert set(by_type) == {"UnauthorizedAccess:EC2/RDPBruteForce", "Impact:EC2/WinRMBruteForce"}

    rdp = by_type["UnauthorizedAccess:EC2/RDPBruteForce"]
    assert (
        rdp["title"] == "198.51.100.23 is performing RDP brute force attacks against eni-0c1c2c3d4e5f60010."
    )
    assert rdp["description"] == (
        "198.51.100.23 made 40 RDP connections (TCP 3389) to eni-0c1c2c3d4e5f60010 within 10 minutes, "
        "as password guessing does. EC2 instance eni-0c1c2c3d4e5f60010 is the TARGET of these attacks."
    )
    assert rdp["severity"] == 2.0
    assert rdp["service"]["resourceRole"] == "TARGET"
    assert rdp["service"]["count"] == 40
    conn = rdp["service"]["action"]["networkConnectionAction"]
    assert conn["connectionDirection"] == "INBOUND"
    assert conn["protocol"] == "TCP"
    assert conn["blocked"] is False
    assert conn["localPortDetails"] == {"port": 3389, "portName": "RDP"}
    assert conn["remoteIpDetails"]["ipAddressV4"] == "198.51.100.23"
    assert (
        rdp["resource"]["instanceDetails"]["networkInterfaces"][0]["networkInterfaceId"]
        == "eni-0c1c2c3d4e5f60010"
    )

    winrm = by_type["Impact:EC2/WinRMBruteForce"]
    assert winrm["title"] == (
        "eni-0c1c2c3d4e5f60013 is performing Windows Remote Management brute force attacks "
        "against 198.51.100.140."
    )
    assert winrm["severity"] == 8.0
    assert winrm["service"]["resourceRole"] == "ACTOR"
    conn = winrm["service"]["action"]["networkConnectionAction"]
    assert conn["connectionDirection"] == "OUTBOUND"
    assert conn["remotePortDetails"] == {"port": 5985, "portName": "WinRM"}
