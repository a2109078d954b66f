"""FindingCriteria against findings keibi's pipeline builds from the detector samples (port probe,
SSH brute force, S3 and IAM calls from a listed IP, root usage), some given the members an EC2
inventory or GeoIP would add (instance id, tags, launch time, ASN, bucket creation time)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from keibi.findings.criteria import (
    MAX_ATTRIBUTES,
    Criteria,
    CriteriaError,
    Op,
    compile_criteria,
    epoch_millis,
    filterable_attributes,
    timestamp_attributes,
)
from tests.helpers import FIXED_NOW, scan_findings

SAMPLES = Path(__file__).resolve().parent.parent / "detect"
PROBE = "Recon:EC2/PortProbeUnprotectedPort"
SSH = "UnauthorizedAccess:EC2/SSHBruteForce"
S3 = "Discovery:S3/MaliciousIPCaller.Custom"
ROOT = "Policy:IAMUser/RootCredentialUsage"
RECON = "Recon:IAMUser/MaliciousIPCaller.Custom"
PROBE_PORT = "service.action.portProbeAction.portProbeDetails.localPortDetails.port"
PROBE_COUNTRY = "service.action.portProbeAction.portProbeDetails.remoteIpDetails.country.countryName"
UPDATED_MS = int((FIXED_NOW - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds() * 1000)


@pytest.fixture(scope="module")
def scanned() -> dict[str, dict[str, Any]]:
    found = scan_findings(
        [
            SAMPLES / "network/samples/port_probe/hit_ssh_probed_by_many_hosts.log",
            SAMPLES / "network/samples/brute_force/hit_ssh_inbound_guessing.log",
            SAMPLES / "s3/samples/malicious_ip/hit_anonymous.json",
            SAMPLES / "iam/samples/root_usage/hit_root_api_calls.json",
        ],
        threat_lists=[SAMPLES / "s3/samples/malicious_ip/feed.Malicious.txt"],
    )
    by_type = {f["type"]: f for f in found}
    assert {PROBE, SSH, S3, ROOT, RECON} <= set(by_type)
    return by_type


@pytest.fixture
def f(scanned: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Fresh copies, with what inventory and GeoIP would add."""
    out = copy.deepcopy(scanned)
    ssh = out[SSH]
    ssh["resource"]["instanceDetails"] |= {
        "instanceId": "i-0a1b2c3d4e5f60001",
        "launchTime": "2023-10-01T08:00:00.000Z",
        "tags": [{"key": "Name", "value": "bastion"}, {"key": "env", "value": "prod"}],
    }
    remote = ssh["service"]["action"]["networkConnectionAction"]["remoteIpDetails"]
    remote["organization"] = {"asn": "16509", "asnOrg": "AMAZON-02"}
    out[S3]["resource"]["s3BucketDetails"][0]["createdAt"] = 1_700_000_000  # epoch seconds, as on the wire
    out[S3]["resource"]["s3BucketDetails"].append({"name": "acme-logs", "type": "Source"})
    probes = out[PROBE]["service"]["action"]["portProbeAction"]["portProbeDetails"]
    probes[1]["localPortDetails"] = {"port": 3389, "portName": "RDP"}
    return out


def _match(criterion: dict[str, Any], finding: dict[str, Any], *, allow_matches: bool = False) -> bool:
    return compile_criteria({"criterion": criterion}, allow_matches=allow_matches).matches(finding)


def test_no_criteria_selects_every_finding(f: dict[str, dict[str, Any]]) -> None:
    for criteria in (None, {}, {"criterion": {}}):
        compiled = compile_criteria(criteria)
        assert compiled == Criteria()
        assert all(compiled.matches(finding) for finding in f.values())
    with pytest.raises(CriteriaError, match="at least one attribute"):
        compile_criteria({"criterion": {}}, allow_matches=True)


def test_values_of_one_attribute_are_ored_and_attributes_anded(f: dict[str, dict[str, Any]]) -> None:
    either = {"type": {"equals": [SSH, PROBE]}}
    assert [t for t, x in f.items() if _match(either, x)] == sorted([SSH, PROBE], key=list(f).index)
    both = {"type": {"equals": [SSH, PROBE]}, "resource.resourceType": {"equals": ["Instance"]}}
    assert _match(both, f[SSH])
    assert not _match({**both, "service.resourceRole": {"equals": ["ACTOR"]}}, f[SSH])
    assert not _match(both, f[S3])
    only = {"type": {"equals": [SSH], "notEquals": [SSH]}}  # operators of one attribute are ANDed
    assert not any(_match(only, x) for x in f.values())


@pytest.mark.parametrize(
    ("old", "new"),
    [("eq", "equals"), ("neq", "notEquals"), ("gt", "greaterThan"), ("gte", "greaterThanOrEqual"),
     ("lt", "lessThan"), ("lte", "lessThanOrEqual")],
)  # fmt: skip
def test_deprecated_operators_mean_what_their_replacements_do(
    f: dict[str, dict[str, Any]], old: str, new: str
) -> None:
    lists = old in ("eq", "neq")
    cases: list[tuple[str, Any]] = (
        [("type", [SSH]), ("severity", ["2", "8"]), ("service.archived", ["false"])]
        if lists
        else [("severity", 5), ("service.count", 15), ("updatedAt", UPDATED_MS)]
    )
    seen: set[bool] = set()
    for attribute, value in cases:
        legacy = [_match({attribute: {old: value}}, x) for x in f.values()]
        assert legacy == [_match({attribute: {new: value}}, x) for x in f.values()]
        seen.update(legacy)
    assert seen == {True, False}
    assert compile_criteria({"criterion": {"type": {old: [SSH] if lists else 1}}}).terms[0].op is Op(new)


def test_numbers_compare_as_numbers_whatever_the_text(f: dict[str, dict[str, Any]]) -> None:
    s3, ssh = f[S3], f[SSH]
    assert s3["severity"] == 8.0
    for text in ("8", "8.0", "8.00", "8e0"):
        assert _match({"severity": {"equals": [text]}}, s3)
        assert not _match({"severity": {"notEquals": [text]}}, s3)
    assert not _match({"severity": {"equals": ["8", "5"]}}, ssh)  # 2.0
    assert not _match({"severity": {"equals": ["high"]}}, s3)
    port = "service.action.networkConnectionAction.localPortDetails.port"
    assert _match({port: {"equals": ["22"]}}, ssh)
    assert _match({port: {"equals": ["22.0"]}}, ssh)
    assert not _match({port: {"equals": ["2222"]}}, ssh)
    assert ssh["service"]["count"] == 30
    assert _match({"service.count": {"greaterThan": 29, "lessThanOrEqual": 30}}, ssh)
    assert not _match({"service.count": {"greaterThan": 30}}, ssh)
    asn = "service.action.networkConnectionAction.remoteIpDetails.organization.asn"  # "16509", text
    assert _match({asn: {"greaterThan": 16000}}, ssh)
    assert not _match({asn: {"lessThan": 16000}}, ssh)
    assert _match({asn: {"equals": ["16509"]}}, ssh)
    assert not _match({asn: {"equals": ["16509.0"]}}, ssh)  # text compares as text


def test_a_whole_severity_is_its_band(f: dict[str, dict[str, Any]]) -> None:
    """GuardDuty documents High as ``["7", "8"]``: every severity from 7.0 to 8.9."""
    finding = {**f[S3], "severity": 7.5}
    assert _match({"severity": {"equals": ["7"]}}, finding)
    assert _match({"severity": {"equals": ["7", "8"]}}, finding)
    assert not _match({"severity": {"equals": ["8"]}}, finding)
    assert _match({"severity": {"equals": ["7.5"]}}, finding)
    assert not _match({"severity": {"equals": ["7.0"]}}, finding)
    assert not _match({"severity": {"notEquals": ["7"]}}, finding)
    assert _match({"severity": {"notEquals": ["4", "5", "6"]}}, finding)
    assert _match({"severity": {"greaterThanOrEqual": 7, "lessThan": 8}}, finding)
    assert not _match({"severity": {"greaterThan": 7, "lessThan": 7}}, finding)


def test_timestamps_compare_as_epoch_milliseconds(f: dict[str, dict[str, Any]]) -> None:
    ssh = f[SSH]
    assert ssh["updatedAt"] == "2026-11-24T12:00:00.000Z"
    ms = UPDATED_MS
    assert epoch_millis(ssh["updatedAt"]) == ms
    assert _match({"updatedAt": {"greaterThan": ms - 1}}, ssh)
    assert not _match({"updatedAt": {"greaterThan": ms}}, ssh)
    assert _match({"updatedAt": {"greaterThanOrEqual": ms}}, ssh)
    assert not _match({"updatedAt": {"lessThan": ms}}, ssh)
    assert _match({"updatedAt": {"lessThan": ms + 1, "lessThanOrEqual": ms}}, ssh)
    assert _match({"updatedAt": {"equals": [str(ms)]}}, ssh)
    assert not _match({"updatedAt": {"equals": [str(ms + 1)]}}, ssh)
    assert _match({"updatedAt": {"equals": ["2026-11-24T12:00:00.000Z"]}}, ssh)
    assert not _match({"updatedAt": {"equals": ["2026-11-24T12:00:00Z"]}}, ssh)  # other text, same instant
    first = epoch_millis("2023-11-14T22:20:00Z")
    assert ssh["service"]["eventFirstSeen"] == "2023-11-14T22:20:00Z"
    assert first is not None
    assert _match({"service.eventFirstSeen": {"greaterThanOrEqual": first, "lessThan": first + 1}}, ssh)
    assert not _match({"service.eventFirstSeen": {"greaterThan": first}}, ssh)
    assert _match({"resource.instanceDetails.launchTime": {"lessThan": first}}, ssh)
    created = "resource.s3BucketDetails.createdAt"  # epoch seconds in the finding, milliseconds in criteria
    assert _match({created: {"equals": ["1700000000000"]}}, f[S3])
    assert _match({created: {"greaterThan": 1_699_999_999_999}}, f[S3])
    assert not _match({created: {"greaterThan": 1_700_000_000_000}}, f[S3])
    assert not _match({created: {"lessThan": 1_800_000_000}}, f[S3])  # seconds are not milliseconds
    finer = {**ssh, "updatedAt": "2026-11-24T12:00:00.000750Z"}  # truncated to the millisecond
    assert _match({"updatedAt": {"equals": [str(ms)], "lessThanOrEqual": ms}}, finer)
    assert not _match({"updatedAt": {"greaterThan": ms}}, finer)
    assert {"updatedAt", "createdAt", "service.eventLastSeen", created} <= timestamp_attributes()


def test_booleans_compare_as_true_and_false(f: dict[str, dict[str, Any]]) -> None:
    ssh = f[SSH]
    assert _match({"service.archived": {"equals": ["false"]}}, ssh)
    assert not _match({"service.archived": {"equals": ["true"]}}, ssh)
    ssh["service"]["archived"] = True
    assert _match({"service.archived": {"equals": ["true"]}}, ssh)
    assert _match({"service.archived": {"equals": ["TRUE"]}}, ssh)
    assert _match({"service.archived": {"notEquals": ["false"]}}, ssh)
    blocked = "service.action.networkConnectionAction.blocked"
    assert _match({blocked: {"equals": ["false"]}}, ssh)
    assert not _match({blocked: {"equals": ["0", "no"]}}, ssh)
    assert not _match({blocked: {"greaterThanOrEqual": 0}}, ssh)  # a boolean is no number
    del f[S3]["service"]["archived"]  # a finding without the flag is active
    assert _match({"service.archived": {"equals": ["false"]}}, f[S3])


def test_a_path_walks_into_lists(f: dict[str, dict[str, Any]]) -> None:
    probe = f[PROBE]
    countries = {
        d["remoteIpDetails"]["country"]["countryName"]
        for d in probe["service"]["action"]["portProbeAction"]["portProbeDetails"]
    }
    assert "Russia" in countries and "Narnia" not in countries
    assert _match({PROBE_COUNTRY: {"equals": ["Narnia", "Russia"]}}, probe)
    assert not _match({PROBE_COUNTRY: {"equals": ["Narnia"]}}, probe)
    assert not _match({PROBE_COUNTRY: {"notEquals": ["Russia"]}}, probe)  # one prober is in Russia
    assert _match({PROBE_COUNTRY: {"notEquals": ["Narnia", "Atlantis"]}}, probe)
    # ports 22 (eleven probers) and 3389 (one): a range holds when one port lies inside it
    assert _match({PROBE_PORT: {"greaterThan": 3000}}, probe)
    assert _match({PROBE_PORT: {"lessThan": 23}}, probe)
    assert not _match({PROBE_PORT: {"greaterThan": 1000, "lessThan": 3000}}, probe)
    assert _match({PROBE_PORT: {"greaterThan": 3000, "lessThan": 4000}}, probe)
    ssh = f[SSH]
    assert _match({"resource.instanceDetails.tags.key": {"equals": ["env"]}}, ssh)
    assert _match({"resource.instanceDetails.tags.value": {"equals": ["bastion"]}}, ssh)
    assert not _match({"resource.instanceDetails.tags.value": {"equals": ["staging"]}}, ssh)
    assert not _match({"resource.instanceDetails.tags.key": {"notEquals": ["Name"]}}, ssh)
    eni = "resource.instanceDetails.networkInterfaces.networkInterfaceId"
    assert _match({eni: {"equals": ["eni-0b1b2c3d4e5f60001"]}}, ssh)
    buckets = "resource.s3BucketDetails.name"
    assert _match({buckets: {"equals": ["acme-logs"]}}, f[S3])
    assert not _match({buckets: {"notEquals": ["acme-logs"]}}, f[S3])
    threat = "service.evidence.threatIntelligenceDetails.threatListName"
    assert _match({threat: {"equals": ["feed.Malicious"]}}, f[RECON])
    assert not _match({threat: {"equals": ["feed.Malicious"]}}, f[ROOT])


def test_an_absent_attribute_equals_nothing_and_is_not_equal_to_anything(
    f: dict[str, dict[str, Any]],
) -> None:
    probe = f[PROBE]  # flow-log findings name the ENI, not the instance, without inventory
    assert "instanceId" not in probe["resource"]["instanceDetails"]
    instance = "resource.instanceDetails.instanceId"
    assert not _match({instance: {"equals": ["i-0a1b2c3d4e5f60001"]}}, probe)
    assert _match({instance: {"notEquals": ["i-0a1b2c3d4e5f60001"]}}, probe)
    assert not _match({instance: {"greaterThanOrEqual": 0}}, probe)
    assert not _match({instance: {"matches": ["*"]}}, probe, allow_matches=True)
    assert _match({instance: {"notMatches": ["i-*"]}}, probe, allow_matches=True)
    assert _match({instance: {"equals": ["i-0a1b2c3d4e5f60001"]}}, f[SSH])
    assert not _match({instance: {"notMatches": ["i-*"]}}, f[SSH], allow_matches=True)


def test_additional_info_is_read_inside_its_json_value(f: dict[str, dict[str, Any]]) -> None:
    recon = f[RECON]
    assert "threatListName" not in recon["service"]["additionalInfo"]  # only inside "value"
    info = "service.additionalInfo.threatListName"
    assert _match({info: {"equals": ["feed.Malicious"]}}, recon)
    assert not _match({info: {"equals": ["feed.Tor"]}}, recon)
    assert not _match({info: {"equals": ["feed.Malicious"]}}, f[ROOT])
    assert _match({"service.additionalInfo.type": {"equals": ["default"]}}, recon)


def test_matches_is_a_whole_value_wildcard(f: dict[str, dict[str, Any]]) -> None:
    def m(pattern: str, finding: dict[str, Any], attribute: str = "type") -> bool:
        return _match({attribute: {"matches": [pattern]}}, finding, allow_matches=True)

    ssh = f[SSH]  # UnauthorizedAccess:EC2/SSHBruteForce
    assert m("UnauthorizedAccess:EC2/*", ssh)
    assert m("*BruteForce", ssh)
    assert m("*", ssh)
    assert m("UnauthorizedAccess:EC2/SSHBruteForc?", ssh)
    assert not m("UnauthorizedAccess:EC2/SSHBruteForc??", ssh)
    assert not m("UnauthorizedAccess:EC2/SSHBruteForc.", ssh)  # "." is literal, not regex
    assert not m("unauthorizedaccess:*", ssh)  # case-sensitive
    assert not m("BruteForce", ssh)  # the whole value, not a substring
    assert not m("UnauthorizedAccess:EC2/SSH\\*", ssh)  # an escaped "*" is literal
    assert m("UnauthorizedAccess:EC2/SSH\\BruteForce", ssh)
    assert m("8.*", f[S3], "severity")  # numbers as their JSON text
    assert not m("8", f[S3], "severity")
    assert m("fal*", ssh, "service.archived")
    assert _match({"type": {"matches": ["Recon:*", "*BruteForce"]}}, ssh, allow_matches=True)
    assert not _match({"type": {"notMatches": ["Recon:*", "*BruteForce"]}}, ssh, allow_matches=True)
    assert _match({"type": {"notMatches": ["Recon:*"]}}, ssh, allow_matches=True)
    assert _match({PROBE_COUNTRY: {"matches": ["Rus*"]}}, f[PROBE], allow_matches=True)


def test_documented_attributes_are_all_accepted() -> None:
    names = filterable_attributes()
    assert len(names) >= 600
    for name in (
        "accountId", "region", "id", "type", "severity", "updatedAt", "resource.resourceType",
        "service.archived", "resource.instanceDetails.tags.key", "resource.instanceDetails.tags.value",
        "service.action.networkConnectionAction.remotePortDetails.port", "service.additionalInfo.threatListName",
    ):  # fmt: skip
        assert name in names
        compile_criteria({"criterion": {name: {"equals": ["x"]}}})
    many = {name: {"neq": ["x"]} for name in sorted(names)[:MAX_ATTRIBUTES]}
    assert len(compile_criteria({"criterion": many}).attributes) == MAX_ATTRIBUTES


def _too_many_attributes() -> dict[str, Any]:
    return {
        "criterion": {name: {"eq": ["x"]} for name in sorted(filterable_attributes())[: MAX_ATTRIBUTES + 1]}
    }


@pytest.mark.parametrize(
    ("criteria", "allow_matches", "says"),
    [
        ({"criterion": {"title": {"equals": ["x"]}}}, False, "'title' is not a finding attribute"),
        ({"criterion": {"Type": {"equals": ["x"]}}}, False, "'Type' is not a finding attribute"),
        (_too_many_attributes(), False, "51 attributes; GuardDuty allows at most 50"),
        ({"criterion": {"type": {"Equals": ["x"]}}}, False, "'type' uses an unknown operator 'Equals'"),
        ({"criterion": {"type": {"contains": ["x"]}}}, False, "unknown operator 'contains'"),
        ({"criterion": {"type": {}}}, False, "condition of attribute 'type' names no operator"),
        ({"criterion": {"type": ["x"]}}, False, "condition of attribute 'type' must be an object"),
        ({"criterion": {"type": {"matches": ["Recon:*"]}}}, False, "matches of attribute 'type' is allowed only in CreateFilter"),
        ({"criterion": {"type": {"notMatches": ["Recon:*"]}}}, False, "notMatches of attribute 'type' is allowed only"),
        ({"criterion": {"type": {"equals": "Recon:EC2/Portscan"}}}, False, "equals of attribute 'type' takes a list of strings"),
        ({"criterion": {"severity": {"equals": [8]}}}, False, "equals of attribute 'severity' takes a list of strings"),
        ({"criterion": {"type": {"notEquals": ["x"] * 51}}}, False, "notEquals of attribute 'type' takes at most 50 values"),
        ({"criterion": {"type": {"matches": ["*"] * 6}}}, True, "matches of attribute 'type' takes at most 5 values"),
        ({"criterion": {"type": {"matches": [""]}}}, True, "must be 1 to 512 characters"),
        ({"criterion": {"type": {"matches": ["x" * 513]}}}, True, "must be 1 to 512 characters"),
        ({"criterion": {"severity": {"greaterThan": "5"}}}, False, "greaterThan of attribute 'severity' takes a whole number"),
        ({"criterion": {"severity": {"gte": 4.5}}}, False, "gte of attribute 'severity' takes a whole number"),
        ({"criterion": {"service.archived": {"lt": True}}}, False, "lt of attribute 'service.archived' takes a whole number"),
        ({"criterion": {"updatedAt": {"lessThan": 2**63}}}, False, "lessThan of attribute 'updatedAt'"),
        ({"criterion": ["type"]}, False, "criterion must map attribute names"),
        ({"Criterion": {"type": {"equals": ["x"]}}}, False, "unknown member 'Criterion'"),
        (["type"], False, "must be an object"),
    ],
)  # fmt: skip
def test_what_guardduty_refuses_is_refused_naming_the_culprit(
    criteria: Any, allow_matches: bool, says: str
) -> None:
    with pytest.raises(CriteriaError) as err:
        compile_criteria(criteria, allow_matches=allow_matches)
    message = str(err.value)
    assert says in message
    assert message.endswith(".") and "\n" not in message


def test_filters_may_use_matches_and_null_operators_are_absent(f: dict[str, dict[str, Any]]) -> None:
    rule = compile_criteria({"criterion": {"type": {"matches": ["*"], "equals": None}}}, allow_matches=True)
    assert [t.op for t in rule.terms] == [Op.MATCHES]
    assert all(rule.matches(x) for x in f.values())
    assert compile_criteria({"criterion": {"type": {"equals": []}}}).matches(f[SSH]) is False
    assert compile_criteria({"criterion": {"type": {"notEquals": []}}}).matches(f[SSH]) is True
