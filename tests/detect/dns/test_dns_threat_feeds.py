"""DNS threat-feed types (C&CActivity.B!DNS, BitcoinTool.B!DNS, BlackholeTraffic!DNS,
DropPoint!DNS, DriveBySourceTraffic!DNS, PhishingDomainRequest!DNS, DGADomainRequest.C!DNS)
on Route 53 Resolver query log samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keibi.detect import ROW, DetectContext, detectors
from keibi.detect.dns.threat_feeds import FEED_TYPES
from keibi.findings import build_findings, validate
from keibi.intel import FEED_CATEGORIES
from tests.detect._frames import check, intel_for, parsed, sample_dir, samples

DETECTOR = "dns.threat_feeds"
FOLDER = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_every_category_is_a_feed_category_and_every_type_is_emitted() -> None:
    assert set(FEED_TYPES) <= set(FEED_CATEGORIES)
    assert detectors.load()[DETECTOR].emits == tuple(FEED_TYPES.values())


def test_info_names_the_feed_and_its_category() -> None:
    found = check(DETECTOR, FOLDER / "hit_moneropool_and_subdomains.jsonl")
    assert json.loads(found["info"][0]) == {
        "threatListName": "keibi-mining-pools",
        "threatNames": ["CryptoCurrency"],
    }


def _findings(name: str) -> dict[str, dict[str, Any]]:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(FOLDER / name, intel_for(FOLDER))
    frame = batch.filter(det.prefilter).with_row_index(ROW) if det.prefilter is not None else batch
    found = det(frame, DetectContext())
    records = build_findings(
        found,
        frame,
        "dns",
        detectors.finding_types(),
        now=datetime(2024, 3, 6, tzinfo=UTC),
        detector=DETECTOR,
    )
    for r in records:
        validate(r.finding)
    return {r.finding["type"]: r.finding for r in records}


def test_finding_names_the_latest_domain_and_the_feed() -> None:
    finding = _findings("hit_c2_beacon.jsonl")["Backdoor:EC2/C&CActivity.B!DNS"]
    assert finding["service"]["action"] == {
        "actionType": "DNS_REQUEST",
        "dnsRequestAction": {
            "domain": "api-metrics-sync.com",
            "domainWithSuffix": "api-metrics-sync.com",
            "protocol": "TCP",
            "blocked": False,
            "vpcOwnerAccountId": "123456789012",
        },
    }
    assert finding["service"]["resourceRole"] == "ACTOR"
    assert finding["service"]["count"] == 4
    assert finding["service"]["evidence"] == {
        "threatIntelligenceDetails": [
            {"threatListName": "feed.CommandAndControl", "threatNames": ["CommandAndControl"]}
        ]
    }
    assert finding["resource"]["instanceDetails"]["instanceId"] == "i-0c2c2c2c2c2c2c2c2"
    assert finding["severity"] == 8.0
    assert "api-metrics-sync.com" in finding["description"]


def test_dns_firewall_block_is_reported_and_still_counts() -> None:
    found = _findings("hit_drive_by_and_phishing_blocked.jsonl")
    phishing = found["Trojan:EC2/PhishingDomainRequest!DNS"]["service"]["action"]["dnsRequestAction"]
    assert phishing["blocked"] is True
    assert phishing["domain"] == "secure-login-review.net"
    drive_by = found["Trojan:EC2/DriveBySourceTraffic!DNS"]["service"]["action"]["dnsRequestAction"]
    assert drive_by["blocked"] is False
    assert drive_by["domainWithSuffix"] == "free-codec-pack.net"


def test_dga_queries_fold_into_one_finding_per_instance_and_feed() -> None:
    """Each DGA name is new; the finding counts them all instead of one finding per name."""
    found = _findings("hit_dga_bot_and_sinkhole.jsonl")
    dga = found["Trojan:EC2/DGADomainRequest.C!DNS"]
    assert dga["service"]["count"] == 5
    assert dga["service"]["action"]["dnsRequestAction"]["domain"] == "www.fairmountain.net"
    assert found["Trojan:EC2/BlackholeTraffic!DNS"]["severity"] == 5.0


def test_a_name_resolving_to_a_sinkhole_is_blackhole_traffic_naming_the_address() -> None:
    """GuardDuty's trigger: a domain whose resolution is redirected to a black-hole address. The
    name is on no feed; its A answer is on the Blackhole feed."""
    found = check(DETECTOR, FOLDER / "hit_sinkholed_answer.jsonl")
    assert json.loads(found["info"][0]) == {
        "threatListName": "feed.Blackhole",
        "threatNames": ["Blackhole"],
        "resolvedAddress": "198.51.100.66",
    }
    finding = _findings("hit_sinkholed_answer.jsonl")["Trojan:EC2/BlackholeTraffic!DNS"]
    assert finding["service"]["action"]["dnsRequestAction"]["domain"] == "cfg.quiet-widget.net"
