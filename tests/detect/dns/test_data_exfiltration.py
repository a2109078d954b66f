"""Trojan:EC2/DNSDataExfiltration on Route 53 Resolver query log samples and the GuardDuty tester's names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import polars as pl
import pytest

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.detect.dns.data_exfiltration import BENIGN_ZONES, encoded_names, entropy, parent_domains
from keibi.intel import Intel
from tests.detect._frames import check, parsed, run, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "dns.data_exfiltration"
SAMPLES = sample_dir(DETECTOR)
EXFILTRATION = "Trojan:EC2/DNSDataExfiltration"
TESTER_NAMES = (
    Path(__file__).resolve().parents[4]
    / "shared"
    / "datasets"
    / "amazon-guardduty-tester"
    / "dns_data_exfiltration_queries.txt"
)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_measures_the_encoded_names() -> None:
    found = check(DETECTOR, SAMPLES / "hit_guardduty_tester_names.jsonl")
    assert json.loads(found["info"][0]) == {
        "parentDomain": "guarddutyc2activityb.com",
        "distinctSubdomains": 70,
        "encodedBytes": 7961,
        "longestLabel": 62,
        "meanEntropy": 4.71,
    }


@pytest.mark.parametrize(
    "settings",
    [
        DetectSettings(dns_exfil_min_subdomains=71),
        DetectSettings(dns_exfil_min_bytes=7962),
        DetectSettings(dns_exfil_min_label_length=63),
        DetectSettings(dns_exfil_min_entropy=4.9),
    ],
    ids=["subdomains", "bytes", "label", "entropy"],
)
def test_thresholds_are_the_settings(settings: DetectSettings) -> None:
    assert run(DETECTOR, SAMPLES / "hit_guardduty_tester_names.jsonl", settings=settings).is_empty()


def test_the_near_miss_counts_at_a_lower_threshold() -> None:
    loose = DetectSettings(dns_exfil_min_subdomains=45)
    found = run(DETECTOR, SAMPLES / "miss_below_threshold.jsonl", settings=loose)
    assert found["count"].to_list() == [45]


def test_a_longer_window_joins_the_split_exfiltration() -> None:
    wide = DetectSettings(dns_exfil_window=timedelta(hours=2))
    found = run(DETECTOR, SAMPLES / "miss_split_across_windows.jsonl", settings=wide)
    assert found["count"].to_list() == [80]


def test_numeric_ids_count_only_below_the_entropy_floor() -> None:
    low = DetectSettings(dns_exfil_min_entropy=3.0)
    found = run(DETECTOR, SAMPLES / "miss_numeric_telemetry_ids.jsonl", settings=low)
    assert found["key"].to_list() == ["i-0aa10000000000118|stats-vendor.io"]


def _over_thresholds(sample: str) -> set[str]:
    """The parents whose names in ``sample`` cross the default thresholds by length, entropy
    and volume alone, per instance, as if no zone or service label were left out."""
    settings = DetectSettings()
    _, batch = parsed(SAMPLES / sample, Intel.with_builtin_feeds())
    names = encoded_names(
        batch["domain"], settings.dns_exfil_min_label_length, settings.dns_exfil_min_entropy
    )
    volume = (
        batch.join(names, on="domain")
        .unique(subset=["instance_id", "parent", "sub"])
        .group_by("instance_id", "parent")
        .agg(pl.len().alias("distinct"), pl.col("encoded").sum().alias("bytes"))
        .filter(
            pl.col("distinct") >= settings.dns_exfil_min_subdomains,
            pl.col("bytes") >= settings.dns_exfil_min_bytes,
        )
    )
    return set(volume["parent"])


@pytest.mark.parametrize(
    ("sample", "zones", "service_lookups"),
    [
        ("miss_mail_server.jsonl", {"spamhaus.net", "uribl.com"}, {"esp-mailer.net"}),
        ("miss_antivirus_reputation.jsonl", {"mcafee.com", "sophosxl.net"}, set()),
        ("miss_cdn_and_aws_names.jsonl", {"dropboxusercontent.com"}, set()),
        ("miss_acme_and_internal_names.jsonl", set(), {"saas-platform.com"}),
    ],
)
def test_lookalikes_are_quiet_by_zone_or_service_label_not_by_volume(
    sample: str, zones: set[str], service_lookups: set[str]
) -> None:
    """These samples hold real look-alikes at volume: only the benign zones (``BENIGN_ZONES``)
    and the TXT service-label rule (DKIM selectors, ACME challenges) keep them quiet."""
    assert _over_thresholds(sample) == zones | service_lookups
    assert zones <= set(BENIGN_ZONES)
    assert run(DETECTOR, SAMPLES / sample).is_empty()


def test_only_the_trusted_list_keeps_the_trusted_domain_quiet() -> None:
    det = detectors.load()[DETECTOR]
    _, batch = parsed(SAMPLES / "miss_trusted_domain.jsonl", Intel.with_builtin_feeds())
    assert det.prefilter is not None
    found = det(batch.filter(det.prefilter).with_row_index(ROW), DetectContext())
    assert found["key"].to_list() == ["i-0aa1000000000014b|corp-example.com"]


def test_parent_is_the_registrable_domain_of_the_whole_suffix_list() -> None:
    names = [
        "a1.b2.evil.co.uk",
        "d111111abcdef8.cloudfront.net",
        "tenant-uploads.s3.us-east-1.amazonaws.com",
        "x9.guarddutyc2activityb.com",
        "ip-10-0-1-5.ec2.internal",
        "web-0.web.default.svc.cluster.local",
        "co.uk",
    ]
    table = parent_domains(pl.Series(names + names[:2]))
    assert dict(zip(table["domain"], table["parent"], strict=True)) == {
        "a1.b2.evil.co.uk": "evil.co.uk",
        "d111111abcdef8.cloudfront.net": "d111111abcdef8.cloudfront.net",
        "tenant-uploads.s3.us-east-1.amazonaws.com": "tenant-uploads.s3.us-east-1.amazonaws.com",
        "x9.guarddutyc2activityb.com": "guarddutyc2activityb.com",
        "ip-10-0-1-5.ec2.internal": None,
        "web-0.web.default.svc.cluster.local": None,
        "co.uk": None,
    }


def test_entropy_is_bits_per_character() -> None:
    frame = pl.DataFrame({"text": ["aaaa", "abcd", "aabb", ""]})
    assert frame.select(entropy(pl.col("text")))["text"].to_list() == [0.0, 2.0, 1.0, None]


def _tester_records(path: Path) -> Path:
    """The tester's ``dig -f`` list (930 names) as Resolver query logs of one instance, 4 queries a second."""
    names = [line.strip() for line in TESTER_NAMES.read_text().splitlines() if line.strip()]
    start = datetime(2024, 3, 5, 16, 0, tzinfo=UTC)
    lines = [
        orjson.dumps(
            {
                "version": "1.100000",
                "account_id": "123456789012",
                "region": "us-east-1",
                "vpc_id": "vpc-0a1b2c3d",
                "query_timestamp": (start + timedelta(seconds=i // 4)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "query_name": f"{name}.",
                "query_type": "A",
                "query_class": "IN",
                "rcode": "NXDOMAIN",
                "answers": [],
                "srcaddr": "172.31.20.15",
                "srcport": str(40000 + i % 20000),
                "transport": "UDP",
                "srcids": {"instance": "i-0e5f00000000000a1"},
            }
        )
        for i, name in enumerate(names)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.skipif(not TESTER_NAMES.exists(), reason="the team's datasets are not checked out")
def test_guardduty_tester_names_raise_one_finding_whatever_the_batch_size(tmp_path: Path) -> None:
    logs = _tester_records(tmp_path / "tester.jsonl")
    findings = {
        rows: [f for f in scan_findings([logs], batch_rows=rows) if f["type"] == EXFILTRATION]
        for rows in (100, 250_000)
    }
    small, whole = findings[100], findings[250_000]
    assert len(whole) == 1 and [f["id"] for f in small] == [whole[0]["id"]]
    finding = whole[0]
    assert finding["severity"] == 8.0
    assert finding["resource"]["instanceDetails"]["instanceId"] == "i-0e5f00000000000a1"
    service = finding["service"]
    assert service["resourceRole"] == "ACTOR"
    assert service["count"] == small[0]["service"]["count"] == 930
    action = service["action"]["dnsRequestAction"]
    assert action["domainWithSuffix"] == "guarddutyc2activityb.com"
    assert action["domain"].endswith(".guarddutyc2activityb.com")
    info = json.loads(service["additionalInfo"]["value"])
    assert (info["parentDomain"], info["distinctSubdomains"]) == ("guarddutyc2activityb.com", 914)
    assert "914 distinct" in finding["description"]
