"""Flow threat-feed types (C&CActivity.B, BitcoinTool.B, BlackholeTraffic, DropPoint) on VPC
flow log samples, v2 (no instance id) and v5."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keibi.detect import ROW, DetectContext, detectors
from keibi.detect.network.threat_feeds import FEED_TYPES
from keibi.findings import build_findings, validate
from keibi.intel import FEED_CATEGORIES
from tests.detect._frames import check, intel_for, parsed, sample_dir, samples

DETECTOR = "network.threat_feeds"
FOLDER = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_every_category_is_a_feed_category_and_every_type_is_emitted() -> None:
    assert set(FEED_TYPES) <= set(FEED_CATEGORIES)
    assert detectors.load()[DETECTOR].emits == tuple(FEED_TYPES.values())


def test_info_names_the_feed_and_its_category() -> None:
    found = check(DETECTOR, FOLDER / "hit_sinkhole_blocked_v2.log")
    assert json.loads(found["info"][0]) == {"threatListName": "feed.Blackhole", "threatNames": ["Blackhole"]}


def _finding(name: str) -> dict[str, Any]:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(FOLDER / name, intel_for(FOLDER))
    frame = batch.filter(det.prefilter).with_row_index(ROW) if det.prefilter is not None else batch
    found = det(frame, DetectContext())
    records = build_findings(
        found,
        frame,
        "vpc_flow",
        detectors.finding_types(),
        now=datetime(2023, 11, 15, tzinfo=UTC),
        detector=DETECTOR,
    )
    assert len(records) == 1
    validate(records[0].finding)
    return records[0].finding


def test_c2_finding_from_a_v2_log_names_the_eni_and_the_connection() -> None:
    finding = _finding("hit_c2_beacon_v2.log")
    assert finding["type"] == "Backdoor:EC2/C&CActivity.B"
    conn = finding["service"]["action"]["networkConnectionAction"]
    assert conn["connectionDirection"] == "OUTBOUND"
    assert conn["blocked"] is False
    assert conn["localNetworkInterface"] == "eni-0c2c000000000001"
    assert conn["remoteIpDetails"]["ipAddressV4"] == "198.51.100.23"
    assert conn["remotePortDetails"] == {"port": 443, "portName": "HTTPS"}
    assert conn["localIpDetails"] == {"ipAddressV4": "172.31.70.61"}
    assert finding["service"]["resourceRole"] == "ACTOR"
    assert finding["service"]["evidence"] == {
        "threatIntelligenceDetails": [
            {"threatListName": "feed.CommandAndControl", "threatNames": ["CommandAndControl"]}
        ]
    }
    interfaces = finding["resource"]["instanceDetails"]["networkInterfaces"]
    assert interfaces[0]["networkInterfaceId"] == "eni-0c2c000000000001"


def test_blocked_attempts_say_blocked() -> None:
    conn = _finding("hit_sinkhole_blocked_v2.log")["service"]["action"]["networkConnectionAction"]
    assert conn["blocked"] is True
    assert conn["remoteIpDetails"]["ipAddressV4"] == "198.51.100.66"


def test_v5_finding_names_the_instance() -> None:
    finding = _finding("hit_miner_stratum_v5.log")
    assert finding["type"] == "CryptoCurrency:EC2/BitcoinTool.B"
    assert finding["resource"]["instanceDetails"]["instanceId"] == "i-0a11ce0000000b17c"
    assert finding["service"]["action"]["networkConnectionAction"]["remotePortDetails"]["port"] == 3333
