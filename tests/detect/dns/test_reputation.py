"""Impact:EC2/{Malicious,Suspicious,Abused,Bitcoin}DomainRequest.Reputation on Route 53 Resolver samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.detect.dns.reputation import TYPES, reputation_data, score_domains
from keibi.findings import build_findings, validate
from tests.detect._frames import check, intel_for, parsed, run, sample_dir, samples

DETECTOR = "dns.reputation"
FOLDER = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def _scores(*names: str) -> dict[str, dict[str, Any]]:
    frame = pl.DataFrame(
        {"domain": list(names), "domain_feed_category": None, "domain_feed": None},
        schema={"domain": pl.String, "domain_feed_category": pl.String, "domain_feed": pl.String},
    )
    return {r["domain"]: r for r in score_domains(frame, DetectContext()).iter_rows(named=True)}


def test_every_signal_has_points_and_the_info_lists_what_scored() -> None:
    found = check(DETECTOR, FOLDER / "hit_random_host_on_dynamic_dns.jsonl")
    infos = {json.loads(i)["reputationSite"]: json.loads(i) for i in found["info"]}
    info = infos["x8fk2jq0vzt.duckdns.org"]
    signals = {s["signal"]: s for s in info["reputationSignals"]}
    assert set(signals) == {"dynamic_dns", "random_label"}
    assert signals["dynamic_dns"]["points"] == reputation_data().points["dynamic_dns"]
    assert info["reputationScore"] == pytest.approx(sum(s["points"] for s in signals.values()))
    assert info["decidedBy"] == "score"
    assert info["reputationMinScore"] == 5.0


def test_one_signal_alone_never_fires() -> None:
    scores = _scores(
        "myhome.duckdns.org",  # dynamic DNS, ordinary name
        "abc.xyz",  # abused TLD, ordinary name
        "xueqiu.com",  # random-looking to the model, on .com
        "pool.ntp.org",  # a pool, not a coin
        "paypal.com",  # the brand's own domain
        "paypal-history.org",  # a brand elsewhere, nothing else
    )
    assert {d: r["category"] for d, r in scores.items()} == dict.fromkeys(scores)
    assert all(r["score"] < 5.0 for r in scores.values())


def test_type_follows_what_scored() -> None:
    scores = _scores(
        "monero-hashvault.top",
        "k2j9xq7zt4pw.ngrok-free.app",
        "office365-login-update.click",
        "paypal-secure-login-verify-account.tk",
    )
    assert scores["monero-hashvault.top"]["category"] == "Bitcoin"
    assert scores["k2j9xq7zt4pw.ngrok-free.app"]["category"] == "Abused"
    assert scores["k2j9xq7zt4pw.ngrok-free.app"]["site"] == "k2j9xq7zt4pw.ngrok-free.app"
    assert scores["office365-login-update.click"]["category"] == "Suspicious"
    assert scores["paypal-secure-login-verify-account.tk"]["category"] == "Malicious"


def test_provider_service_names_and_infrastructure_are_not_scored() -> None:
    scores = _scores("www.duckdns.org", "dynupdate.no-ip.com", "d1k2j9xq7zt4pw.cloudfront.net", "dns.google")
    assert scores == {}


def test_thresholds_are_configurable() -> None:
    path = FOLDER / "hit_brand_phishing_name.jsonl"
    assert run(DETECTOR, path, settings=DetectSettings(reputation_min_score=7.0)).is_empty()
    lowered = run(DETECTOR, path, settings=DetectSettings(reputation_malicious_score=6.0))
    assert lowered["type"].to_list() == ["Impact:EC2/MaliciousDomainRequest.Reputation"]


def test_seed_categories_are_finding_types() -> None:
    assert set(reputation_data().seeds.values()) == set(TYPES)


def test_malicious_feed_finding_names_the_feed() -> None:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(FOLDER / "hit_malicious_feed_domain.jsonl", intel_for(FOLDER))
    assert det.prefilter is not None
    frame = batch.filter(det.prefilter).with_row_index(ROW)
    records = build_findings(
        det(frame, DetectContext()),
        frame,
        "dns",
        detectors.finding_types(),
        now=datetime(2026, 3, 10, tzinfo=UTC),
        detector=DETECTOR,
    )
    (record,) = records
    finding = record.finding
    validate(finding)
    assert finding["type"] == "Impact:EC2/MaliciousDomainRequest.Reputation"
    assert finding["service"]["evidence"] == {
        "threatIntelligenceDetails": [{"threatListName": "feed.Malicious"}]
    }
    request = finding["service"]["action"]["dnsRequestAction"]
    assert request["domainWithSuffix"] == "cdn-telemetry-sync.com"
    info = json.loads(finding["service"]["additionalInfo"]["value"])
    assert info["decidedBy"] == "feed"
    assert info["reputationSignals"] == [
        {"signal": "malicious_feed", "points": 10.0, "detail": "feed.Malicious"}
    ]
