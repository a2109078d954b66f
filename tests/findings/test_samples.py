"""sample_findings (CreateSampleFindings): one valid, realistic sample per catalogue type, marked ``sample``."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime
from importlib.resources import files
from typing import Any

import orjson
import pytest

from keibi.detect.catalogue import load_catalogue
from keibi.findings import decode_info, detector_id, validate
from keibi.findings.samples import SAMPLES_FILE, sample_findings

ACCOUNT = "111122223333"
REGION = "eu-west-1"
NOW = datetime(2026, 3, 1, 12, 30, 15, 250000, tzinfo=UTC)
CATALOGUE = {str(t["type"]): t for t in load_catalogue()}
NAMES = list(CATALOGUE)


@pytest.fixture(scope="module")
def samples() -> dict[str, dict[str, Any]]:
    found = sample_findings(ACCOUNT, REGION, now=NOW)
    return {f["type"]: f for f in found}


def _expected_action(name: str) -> str:
    """The action type a finding type's name implies (flow, probe, DNS query or API call)."""
    if ":IAMUser/" in name or ":S3/" in name:
        return "AWS_API_CALL"
    if (
        "!DNS" in name
        or "DomainRequest" in name
        or name.endswith(("/DNSDataExfiltration", "/MetadataDNSRebind"))
    ):
        return "DNS_REQUEST"
    if "/PortProbe" in name:
        return "PORT_PROBE"
    return "NETWORK_CONNECTION"


def _expected_resource(name: str) -> str:
    return {"IAMUser": "AccessKey", "S3": "S3Bucket", "EC2": "Instance"}[name.split(":")[1].split("/")[0]]


def _addresses(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(v) for k, v in node.items() if k in ("ipAddressV4", "ipAddressV6")]
        return found + [a for v in node.values() for a in _addresses(v)]
    if isinstance(node, list):
        return [a for v in node for a in _addresses(v)]
    return []


def test_the_catalogue_is_the_one_keibi_ships() -> None:
    assert len(NAMES) == 88


def test_every_catalogue_type_gets_exactly_one_sample_in_catalogue_order() -> None:
    found = sample_findings(ACCOUNT, REGION, now=NOW)
    assert [f["type"] for f in found] == NAMES
    assert sample_findings(ACCOUNT, REGION, [], now=NOW)[0]["type"] == NAMES[0]
    assert len(sample_findings(ACCOUNT, REGION, [], now=NOW)) == len(NAMES)


def test_every_catalogue_type_has_its_own_sample_data() -> None:
    data = orjson.loads(files("keibi.findings").joinpath(SAMPLES_FILE).read_bytes())
    assert sorted(data["types"]) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_sample_is_a_valid_finding_of_its_type(name: str, samples: dict[str, dict[str, Any]]) -> None:
    finding = samples[name]
    validate(finding)
    assert finding["type"] == name
    assert (finding["accountId"], finding["region"], finding["partition"]) == (ACCOUNT, REGION, "aws")
    assert finding["severity"] == CATALOGUE[name]["severity"]["typical_value"]
    service = finding["service"]
    assert service["detectorId"] == detector_id(ACCOUNT, REGION)
    assert re.fullmatch(r"[0-9a-f]{32}", finding["id"])
    assert finding["arn"] == (
        f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{service['detectorId']}/finding/{finding['id']}"
    )
    assert (service["count"], service["archived"]) == (1, False)
    assert (finding["createdAt"], finding["updatedAt"]) == ("2026-03-01T12:30:15.250Z",) * 2
    assert (service["eventFirstSeen"], service["eventLastSeen"]) == ("2026-03-01T12:30:15Z",) * 2
    assert service["resourceRole"] in ("TARGET", "ACTOR")


@pytest.mark.parametrize("name", NAMES)
def test_sample_is_marked_as_guardduty_marks_samples(name: str, samples: dict[str, dict[str, Any]]) -> None:
    finding = samples[name]
    extra = finding["service"]["additionalInfo"]
    assert extra["type"] == "default" and isinstance(extra["value"], str)
    info = decode_info(finding)
    assert info["sample"] is True
    assert "keibi" not in info  # no evidence pointers: no raw record stands behind a sample
    assert not finding["title"].startswith("[SAMPLE]")


@pytest.mark.parametrize("name", NAMES)
def test_sample_has_the_resource_and_action_its_type_names(
    name: str, samples: dict[str, dict[str, Any]]
) -> None:
    finding = samples[name]
    resource, action = finding["resource"], finding["service"]["action"]
    assert resource["resourceType"] == _expected_resource(name) == CATALOGUE[name]["resource_type"]
    assert action["actionType"] == _expected_action(name) == CATALOGUE[name]["action_type"]
    if resource["resourceType"] == "Instance":
        assert re.fullmatch(r"i-[0-9a-f]{17}", resource["instanceDetails"]["instanceId"])
    else:
        keys = resource["accessKeyDetails"]
        if name.endswith("/ConsoleLoginSuccess.B"):
            assert "accessKeyId" not in keys  # a console sign-in uses no access key
        else:
            assert re.fullmatch(r"A[KS]IA[0-9A-Z]{16}", keys["accessKeyId"])
        assert keys["principalId"] and keys["userType"] and keys["userName"]
    if resource["resourceType"] == "S3Bucket" and name != "Policy:S3/AccountBlockPublicAccessDisabled":
        (bucket,) = resource["s3BucketDetails"]
        assert bucket["name"] == "amzn-s3-demo-bucket" and bucket["arn"] == "arn:aws:s3:::amzn-s3-demo-bucket"
    if action["actionType"] == "AWS_API_CALL":
        call = action["awsApiCallAction"]
        assert call["api"] and call["serviceName"].endswith(".amazonaws.com")
        assert call["callerType"] == "Remote IP" and call["remoteIpDetails"]["ipAddressV4"]
    elif action["actionType"] == "NETWORK_CONNECTION":
        conn = action["networkConnectionAction"]
        assert conn["connectionDirection"] in ("INBOUND", "OUTBOUND")
        assert (
            conn["remoteIpDetails"]["ipAddressV4"] and conn["localPortDetails"] and conn["remotePortDetails"]
        )
    elif action["actionType"] == "PORT_PROBE":
        probes = action["portProbeAction"]["portProbeDetails"]
        assert probes and all(p["remoteIpDetails"]["ipAddressV4"] for p in probes)
    else:
        request = action["dnsRequestAction"]
        assert request["domain"].endswith(".example") and request["domainWithSuffix"]


@pytest.mark.parametrize("name", NAMES)
def test_sample_text_is_filled_and_names_only_documentation_addresses(
    name: str, samples: dict[str, dict[str, Any]]
) -> None:
    finding = samples[name]
    for text in (finding["title"], finding["description"]):
        assert "unknown" not in text and "{" not in text
    assert finding["title"] != name  # a real title, not keibi's fallback to the type string
    for address in _addresses(finding):
        ip = ipaddress.ip_address(address)
        assert any(
            ip in ipaddress.ip_network(net)
            for net in (
                "192.0.2.0/24",
                "198.51.100.0/24",
                "203.0.113.0/24",
                "172.16.0.0/12",
                "169.254.0.0/16",
            )
        ), address


def test_documentation_addresses_are_placed_like_geoip_would(samples: dict[str, dict[str, Any]]) -> None:
    remote = samples["UnauthorizedAccess:EC2/SSHBruteForce"]["service"]["action"]["networkConnectionAction"]
    assert remote["remoteIpDetails"]["country"] == {"countryCode": "NL", "countryName": "Netherlands"}
    assert remote["remoteIpDetails"]["organization"]["asn"] == "64500"
    assert "country" not in remote["localIpDetails"]
    inside = samples["UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS"]
    call = inside["service"]["action"]["awsApiCallAction"]
    assert call["remoteIpDetails"] == {"ipAddressV4": "172.31.94.211"}  # a private address has no place
    assert call["remoteAccountDetails"] == {"accountId": "444455556666", "affiliated": False}


def test_the_callers_account_fills_the_data(samples: dict[str, dict[str, Any]]) -> None:
    root = samples["Policy:IAMUser/RootCredentialUsage"]["resource"]["accessKeyDetails"]
    assert (root["principalId"], root["userName"], root["userType"]) == (ACCOUNT, "Root", "Root")
    account_bpa = samples["Policy:S3/AccountBlockPublicAccessDisabled"]
    assert ACCOUNT in account_bpa["title"]
    other = sample_findings("444455556666", "us-east-1", ["Policy:IAMUser/RootCredentialUsage"], now=NOW)[0]
    assert other["resource"]["accessKeyDetails"]["principalId"] == "444455556666"
    assert other["service"]["detectorId"] == detector_id("444455556666", "us-east-1")


def test_behaviour_samples_explain_themselves(samples: dict[str, dict[str, Any]]) -> None:
    iam = samples["Persistence:IAMUser/AnomalousBehavior"]["service"]
    unusual = iam["detection"]["anomaly"]["unusual"]["behavior"]["principal"]["api"]
    assert unusual["observations"]["text"] == ["iam:CreateLoginProfile"]
    assert "anomaly" not in decode_info(samples["Persistence:IAMUser/AnomalousBehavior"])
    assert "detection" not in samples["Recon:EC2/Portscan"]["service"]


def test_severity_variants_are_the_catalogue_label(samples: dict[str, dict[str, Any]]) -> None:
    """Types whose severity varies get the variant the catalogue's label names."""
    ssh = samples["UnauthorizedAccess:EC2/SSHBruteForce"]
    assert (ssh["severity"], ssh["service"]["resourceRole"]) == (2.0, "TARGET")
    probe = samples["Recon:EC2/PortProbeUnprotectedPort"]["service"]["action"]["portProbeAction"]
    assert {p["localPortDetails"]["port"] for p in probe["portProbeDetails"]} == {22}
    port = samples["Behavior:EC2/NetworkPortUnusual"]["service"]["action"]["networkConnectionAction"]
    assert port["remotePortDetails"]["port"] not in (389, 1389)


def test_ids_are_new_on_every_call() -> None:
    first = sample_findings(ACCOUNT, REGION, now=NOW)
    second = sample_findings(ACCOUNT, REGION, now=NOW)
    ids = [f["id"] for f in first]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {f["id"] for f in second}
    same = sample_findings(ACCOUNT, REGION, ["Recon:EC2/Portscan"], now=NOW)
    again = sample_findings(ACCOUNT, REGION, ["Recon:EC2/Portscan"], now=NOW)
    assert same[0]["id"] != again[0]["id"]
    assert {k: v for k, v in same[0].items() if k not in ("id", "arn")} == {
        k: v for k, v in again[0].items() if k not in ("id", "arn")
    }


def test_a_subset_returns_only_those_types_in_the_order_asked() -> None:
    asked = ["Trojan:EC2/DNSDataExfiltration", "Policy:S3/BucketPublicAccessGranted", "Recon:EC2/Portscan"]
    found = sample_findings(ACCOUNT, REGION, asked, now=NOW)
    assert [f["type"] for f in found] == asked
    twice = sample_findings(ACCOUNT, REGION, [asked[0], asked[1], asked[0]], now=NOW)
    assert [f["type"] for f in twice] == asked[:2]
    assert [f["type"] for f in sample_findings(ACCOUNT, REGION, asked[2], now=NOW)] == [asked[2]]


def test_the_one_type_keibi_does_not_detect_still_gets_a_real_sample(
    samples: dict[str, dict[str, Any]],
) -> None:
    finding = samples["CredentialAccess:IAMUser/CompromisedCredentials"]
    assert finding["title"] != finding["type"]
    assert "AKIAIOSFODNN7EXAMPLE" in finding["description"]
    assert finding["severity"] == 8.0


@pytest.mark.parametrize(
    "asked",
    [
        ["Recon:EC2/NotAType"],
        ["Recon:EC2/Portscan", "Recon:EC2/NotAType"],
        ["recon:ec2/portscan"],  # GuardDuty's type strings are case-sensitive
        ["Recon:EC2/PortProbeUnprotectedPort "],
    ],
)
def test_an_unknown_type_is_refused_by_name(asked: list[str]) -> None:
    bad = asked[-1]
    with pytest.raises(ValueError, match=re.escape(repr(bad))) as err:
        sample_findings(ACCOUNT, REGION, asked, now=NOW)
    assert "\n" not in str(err.value)


def test_a_retired_type_is_not_a_sample_type() -> None:
    with pytest.raises(ValueError, match="UnauthorizedAccess:EC2/TorIPCaller"):
        sample_findings(ACCOUNT, REGION, ["UnauthorizedAccess:EC2/TorIPCaller"], now=NOW)
