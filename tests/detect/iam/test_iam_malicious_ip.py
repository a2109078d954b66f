"""{Recon,UnauthorizedAccess}:IAMUser/MaliciousIPCaller on CloudTrail samples, and end to end on
the panther enrichment example, whose attacker address upstream says was on a malware list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keibi.detect.iam.malicious_ip import MALICIOUS_CATEGORIES
from keibi.intel import FEED_CATEGORIES
from tests.detect._frames import check, sample_dir, samples
from tests.helpers import scan_findings, types_of

DETECTOR = "iam.malicious_ip"
ATTACKER = (
    Path(__file__).resolve().parents[4]
    / "shared/datasets/panther-analysis/test-scenarios/enrichment-example/attacker_cloudtrail.json"
)
MALICIOUS_TYPES = {"Recon:IAMUser/MaliciousIPCaller", "UnauthorizedAccess:IAMUser/MaliciousIPCaller"}


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_feed_and_its_category() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_recon_and_unauthorized.json")
    assert [json.loads(i) for i in found["info"]] == [
        {"threatListName": "feed.Malicious", "threatNames": ["Malicious"]}
    ] * 2


def test_malicious_categories_are_feed_categories() -> None:
    assert set(MALICIOUS_CATEGORIES) <= set(FEED_CATEGORIES)
    assert not {"Tor", "TorRelay", "CryptoCurrency", "Blackhole"} & set(MALICIOUS_CATEGORIES)


@pytest.fixture
def malware_feed(tmp_path: Path) -> Path:
    path = tmp_path / "malware-ips.txt"
    path.write_text("# upstream README: this address was on a malware IP list\n200.58.83.179\n")
    return path


def test_enrichment_example_with_the_address_on_a_malicious_feed(malware_feed: Path) -> None:
    found = scan_findings([ATTACKER], feeds=[("Malicious", malware_feed)])
    (finding,) = [f for f in found if f["type"] in MALICIOUS_TYPES]
    assert finding["type"] == "UnauthorizedAccess:IAMUser/MaliciousIPCaller"
    assert finding["severity"] == 5.0
    assert finding["resource"]["accessKeyDetails"]["userType"] == "Root"
    assert finding["service"]["evidence"] == {
        "threatIntelligenceDetails": [{"threatListName": "malware-ips", "threatNames": ["Malicious"]}]
    }
    assert (
        finding["service"]["action"]["awsApiCallAction"]["remoteIpDetails"]["ipAddressV4"] == "200.58.83.179"
    )
    # Root's own RootCredentialUsage is there either way; the list only adds the threat finding.
    assert "Policy:IAMUser/RootCredentialUsage" in types_of(found)


def test_enrichment_example_without_the_feed_raises_no_threat_finding() -> None:
    found = scan_findings([ATTACKER])
    assert "Policy:IAMUser/RootCredentialUsage" in types_of(found)
    assert not MALICIOUS_TYPES & set(types_of(found))
