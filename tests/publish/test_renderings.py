"""Renderings of every sample type: ASFF checked against botocore's Security Hub model (the
BatchImportFindings input, plus the patterns, enums and documented limits the validator skips),
OCSF against the Detection Finding 1.1.0 requirements written out below."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import botocore.session
import pytest
from botocore.validate import ParamValidator

from keibi.errors import ConfigError
from keibi.findings.samples import sample_findings
from keibi.publish.renderings import (
    RENDERINGS,
    asff_type,
    render,
    severity_label,
    to_asff,
    to_guardduty,
    to_ocsf,
)

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ACCOUNT = "111122223333"
Samples = dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
def samples() -> Samples:
    return {f["type"]: f for f in sample_findings(ACCOUNT, "us-east-1", now=NOW)}


@pytest.fixture(scope="module")
def securityhub() -> Any:
    return botocore.session.get_session().get_service_model("securityhub")


# ---------------------------------------------------------------- ASFF against botocore


def _shape_problems(value: Any, shape: Any, path: str = "") -> list[str]:
    """What ParamValidator does not check: string patterns and enums, at any depth."""
    problems: list[str] = []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        for name, item in value.items():
            if name in shape.members:
                problems += _shape_problems(item, shape.members[name], f"{path}.{name}")
    elif kind == "list" and isinstance(value, list):
        for n, item in enumerate(value):
            problems += _shape_problems(item, shape.member, f"{path}[{n}]")
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            problems += _shape_problems(key, shape.key, f"{path}<key>")
            problems += _shape_problems(item, shape.value, f"{path}[{key}]")
    elif kind == "string" and isinstance(value, str):
        enum, pattern = getattr(shape, "enum", None), shape.metadata.get("pattern")
        if enum and value not in enum:
            problems.append(f"{path}: {value!r} not in {enum}")
        if pattern and not re.fullmatch(pattern, value, re.DOTALL):
            problems.append(f"{path}: {value!r} does not match {pattern}")
    return problems


def asff_problems(findings: list[dict[str, Any]], model: Any) -> list[str]:
    request = model.operation_model("BatchImportFindings").input_shape
    report = ParamValidator().validate({"Findings": findings}, request)
    problems = [report.generate_report()] if report.has_errors() else []
    problems += _shape_problems({"Findings": findings}, request)
    for n, f in enumerate(findings):  # ASFF's documented limits
        if len(f.get("ProductFields", {})) > 50:
            problems.append(f"[{n}] more than 50 ProductFields")
        if any(len(k) > 128 or len(v) > 2048 for k, v in f.get("ProductFields", {}).items()):
            problems.append(f"[{n}] a ProductFields key or value is too long")
        if len(f.get("Title", "")) > 256 or len(f.get("Description", "")) > 1024:
            problems.append(f"[{n}] Title or Description too long")
        if not 1 <= len(f.get("Resources", [])) <= 32:
            problems.append(f"[{n}] Resources must hold 1 to 32 entries")
    return problems


def test_every_sample_renders_to_asff_that_botocore_accepts(samples: Samples, securityhub: Any) -> None:
    asffs = [to_asff(f) for f in samples.values()]
    assert len(asffs) == 88
    assert asff_problems(asffs[:80], securityhub) == []
    assert asff_problems(asffs[80:], securityhub) == []
    namespaces = {"Software and Configuration Checks", "TTPs", "Effects", "Unusual Behaviors"}
    assert {t.split("/")[0] for a in asffs for t in a["Types"]} <= namespaces
    assert all(a["Types"] == a["FindingProviderFields"]["Types"] for a in asffs)


def test_the_validator_catches_a_broken_finding(samples: Samples, securityhub: Any) -> None:
    good = to_asff(samples["UnauthorizedAccess:EC2/SSHBruteForce"])
    missing = {k: v for k, v in good.items() if k != "Title"}
    wrong_type = {**good, "Severity": {**good["Severity"], "Normalized": "20"}}
    bad_enum = {**good, "RecordState": "GONE"}
    blank = {**good, "ProductFields": {**good["ProductFields"], "aws/guardduty/x": " "}}
    assert any("Title" in p for p in asff_problems([missing], securityhub))
    assert any("Normalized" in p for p in asff_problems([wrong_type], securityhub))
    assert any("GONE" in p for p in asff_problems([bad_enum], securityhub))
    assert any("does not match" in p for p in asff_problems([blank], securityhub))


@pytest.mark.parametrize(
    ("finding_type", "expected"),
    [  # rows of the GuardDuty guide's Security Hub table, and types it predates
        ("UnauthorizedAccess:EC2/SSHBruteForce", "TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"),
        ("Backdoor:EC2/C&CActivity.B!DNS", "TTPs/Command and Control/Backdoor:EC2-C&CActivity.B!DNS"),
        ("Behavior:EC2/NetworkPortUnusual", "Unusual Behaviors/VM/Behavior:EC2-NetworkPortUnusual"),
        ("Recon:EC2/Portscan", "TTPs/Discovery/Recon:EC2-Portscan"),
        ("Impact:EC2/WinRMBruteForce", "TTPs/Impact/Impact:EC2-WinRMBruteForce"),
        ("Trojan:EC2/DropPoint!DNS", "Effects/Data Exfiltration/Trojan:EC2-DropPoint!DNS"),
        ("Trojan:EC2/DNSDataExfiltration", "TTPs/Command and Control/Trojan:EC2-DNSDataExfiltration!DNS"),
        ("UnauthorizedAccess:EC2/TorRelay", "Effects/Resource Consumption/UnauthorizedAccess:EC2-TorRelay"),
        ("UnauthorizedAccess:EC2/MetadataDNSRebind", "TTPs/UnauthorizedAccess:EC2-MetadataDNSRebind"),
        (
            "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
            "TTPs/UnauthorizedAccess:IAMUser-ConsoleLoginSuccess.B",
        ),
        (
            "UnauthorizedAccess:IAMUser/TorIPCaller",
            "TTPs/Command and Control/UnauthorizedAccess:IAMUser-TorIPCaller",
        ),
        (
            "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
            "Effects/Data Exfiltration/UnauthorizedAccess:IAMUser-InstanceCredentialExfiltration.OutsideAWS",
        ),
        ("Policy:IAMUser/RootCredentialUsage", "TTPs/Policy:IAMUser-RootCredentialUsage"),
        (
            "Stealth:IAMUser/CloudTrailLoggingDisabled",
            "TTPs/Defense Evasion/Stealth:IAMUser-CloudTrailLoggingDisabled",
        ),
        ("Discovery:S3/TorIPCaller", "TTPs/Discovery:S3-TorIPCaller"),
        (
            "Policy:S3/BucketBlockPublicAccessDisabled",
            "Effects/Data Exposure/Policy:S3-BucketBlockPublicAccessDisabled",
        ),
        (
            "Stealth:S3/ServerAccessLoggingDisabled",
            "TTPs/Defense Evasion/Stealth:S3-ServerAccessLoggingDisabled",
        ),
        (
            "CredentialAccess:IAMUser/AnomalousBehavior",
            "TTPs/Credential Access/CredentialAccess:IAMUser-AnomalousBehavior",
        ),
        ("PenTest:IAMUser/KaliLinux", "TTPs/Discovery/PenTest:IAMUser-KaliLinux"),
    ],
)
def test_asff_types_follow_guardduty_mapping(finding_type: str, expected: str) -> None:
    assert asff_type(finding_type) == expected


def test_asff_of_a_network_finding(samples: Samples) -> None:
    finding = samples["UnauthorizedAccess:EC2/SSHBruteForce"]
    asff = to_asff(finding)
    assert asff["Id"] == finding["arn"]
    assert asff["GeneratorId"] == finding["arn"].split("/finding/")[0]
    assert asff["GeneratorId"].endswith(f"detector/{finding['service']['detectorId']}")
    assert asff["ProductArn"] == "arn:aws:securityhub:us-east-1::product/aws/guardduty"
    assert asff["AwsAccountId"] == ACCOUNT
    assert asff["Severity"] == {"Product": 2.0, "Label": "LOW", "Normalized": 20, "Original": "2.0"}
    assert asff["Types"] == ["TTPs/Initial Access/UnauthorizedAccess:EC2-SSHBruteForce"]
    assert (asff["CreatedAt"], asff["FirstObservedAt"]) == (
        finding["createdAt"],
        finding["service"]["eventFirstSeen"],
    )
    assert asff["Resources"][0]["Type"] == "AwsEc2Instance"
    assert asff["Resources"][0]["Id"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1234567890abcdef0"
    assert asff["Network"] == {
        "Direction": "IN",
        "Protocol": "TCP",
        "SourceIpV4": "198.51.100.77",
        "SourcePort": 60901,
        "DestinationIpV4": "172.31.16.139",
        "DestinationPort": 22,
    }
    action = asff["Action"]["NetworkConnectionAction"]
    assert asff["Action"]["ActionType"] == "NETWORK_CONNECTION"
    assert action["LocalPortDetails"] == {"Port": 22, "PortName": "SSH"}
    assert action["RemoteIpDetails"]["Organization"]["Asn"] == 64500
    fields = asff["ProductFields"]
    assert fields["aws/guardduty/service/action/networkConnectionAction/localPortDetails/port"] == "22"
    assert fields["aws/guardduty/service/action/networkConnectionAction/blocked"] == "false"
    assert fields["aws/guardduty/service/count"] == "1"
    assert (asff["RecordState"], asff["Workflow"], asff["Sample"]) == ("ACTIVE", {"Status": "NEW"}, True)


def test_asff_resources_of_api_call_findings(samples: Samples) -> None:
    iam = to_asff(samples["Recon:IAMUser/MaliciousIPCaller"])
    assert iam["Resources"] == [
        {
            "Type": "AwsIamAccessKey",
            "Id": "AWS::IAM::AccessKey:AKIAIOSFODNN7EXAMPLE",
            "Partition": "aws",
            "Region": "us-east-1",
            "Details": {
                "AwsIamAccessKey": {
                    "PrincipalId": "AIDACKCEVSQ6C2EXAMPLE",
                    "PrincipalType": "IAMUser",
                    "PrincipalName": "Alice",
                }
            },
        }
    ]
    call = iam["Action"]["AwsApiCallAction"]
    assert (call["Api"], call["CallerType"]) == ("DescribeSecurityGroups", "remoteIp")
    assert "Network" not in iam
    s3 = to_asff(samples["Policy:S3/BucketBlockPublicAccessDisabled"])
    assert [r["Type"] for r in s3["Resources"]] == ["AwsS3Bucket", "AwsIamAccessKey"]
    bucket = s3["Resources"][0]
    assert bucket["Id"] == "arn:aws:s3:::amzn-s3-demo-bucket"
    assert bucket["Details"]["AwsS3Bucket"]["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": False,
        "BlockPublicPolicy": False,
        "IgnorePublicAcls": False,
        "RestrictPublicBuckets": False,
    }


def test_asff_instance_details_as_in_guardduty_example(samples: Samples) -> None:
    """The guide's example finding: what Security Hub shows for a fully described instance."""
    finding = copy.deepcopy(samples["UnauthorizedAccess:EC2/SSHBruteForce"])
    finding["resource"]["instanceDetails"] = {
        "instanceId": "i-0c10c2c7863d1a356",
        "instanceType": "t2.micro",
        "imageId": "ami-02354e95b39ca8dec",
        "launchTime": "2020-08-03T23:21:57Z",
        "tags": [{"key": "Name", "value": "kubectl"}, {"key": "empty", "value": ""}],
        "networkInterfaces": [
            {
                "networkInterfaceId": "eni-1",
                "publicIp": "18.234.130.16",
                "privateIpAddress": "172.31.43.6",
                "subnetId": "subnet-4975b475",
                "vpcId": "vpc-a0c2d7c7",
            }
        ],
    }
    resource = to_asff(finding)["Resources"][0]
    assert resource["Tags"] == {"Name": "kubectl"}
    assert resource["Details"]["AwsEc2Instance"] == {
        "Type": "t2.micro",
        "ImageId": "ami-02354e95b39ca8dec",
        "IpV4Addresses": ["18.234.130.16", "172.31.43.6"],
        "VpcId": "vpc-a0c2d7c7",
        "SubnetId": "subnet-4975b475",
        "LaunchedAt": "2020-08-03T23:21:57Z",
        "NetworkInterfaces": [{"NetworkInterfaceId": "eni-1"}],
    }
    no_instance = copy.deepcopy(finding)
    del no_instance["resource"]["instanceDetails"]["instanceId"]
    assert to_asff(no_instance)["Resources"][0]["Type"] == "AwsEc2NetworkInterface"


def test_asff_stays_within_limits_for_a_large_finding(samples: Samples, securityhub: Any) -> None:
    finding = copy.deepcopy(samples["Recon:EC2/PortProbeUnprotectedPort"])
    details = finding["service"]["action"]["portProbeAction"]["portProbeDetails"]
    finding["service"]["action"]["portProbeAction"]["portProbeDetails"] = details * 20
    finding["service"]["additionalInfo"]["value"] = '{"big": "' + "x" * 5000 + '"}'
    finding["title"] = "T" * 400
    finding["service"]["archived"] = True
    asff = to_asff(finding)
    assert asff_problems([asff], securityhub) == []
    assert len(asff["ProductFields"]) == 47
    assert len(asff["ProductFields"]["aws/guardduty/service/additionalInfo/value"]) == 2048
    assert len(asff["Title"]) == 256
    assert asff["RecordState"] == "ARCHIVED"


@pytest.mark.parametrize(
    ("severity", "label", "ocsf_id"),
    [
        (1.0, "Low", 2),
        (3.9, "Low", 2),
        (4.0, "Medium", 3),
        (6.9, "Medium", 3),
        (7.0, "High", 4),
        (8.9, "High", 4),
        (9.0, "Critical", 5),
        (10.0, "Critical", 5),
    ],
)
def test_severity_bands(samples: Samples, severity: float, label: str, ocsf_id: int) -> None:
    finding = {**samples["UnauthorizedAccess:EC2/SSHBruteForce"], "severity": severity}
    assert severity_label(severity) == label
    normalized = to_asff(finding)["Severity"]["Normalized"]
    band = {"Low": range(1, 40), "Medium": range(40, 70), "High": range(70, 90), "Critical": range(90, 101)}
    assert normalized in band[label]
    assert to_asff(finding)["Severity"]["Label"] == label.upper()
    assert (to_ocsf(finding)["severity_id"], to_ocsf(finding)["severity"]) == (ocsf_id, label)


# ---------------------------------------------------------------- OCSF Detection Finding 1.1.0

# schema.ocsf.io/1.1.0: Detection Finding's required attributes (base event + finding + the
# cloud profile), and the required attributes of the objects it holds.
OCSF_REQUIRED: dict[str, type] = {
    "activity_id": int,
    "category_uid": int,
    "class_uid": int,
    "cloud": dict,
    "finding_info": dict,
    "metadata": dict,
    "severity_id": int,
    "time": int,
    "type_uid": int,
}
FINDING_INFO_REQUIRED: dict[str, type] = {"uid": str, "title": str}
METADATA_REQUIRED: dict[str, type] = {"product": dict, "version": str}
CLOUD_REQUIRED: dict[str, type] = {"provider": str}
OBSERVABLE_REQUIRED: dict[str, type] = {"name": str, "type_id": int}
OCSF_ENUMS: dict[str, set[int]] = {
    "activity_id": {0, 1, 2, 3, 99},
    "severity_id": {0, 1, 2, 3, 4, 5, 6, 99},
    "status_id": {0, 1, 2, 3, 4, 99},
}
EVIDENCE_ATTRIBUTES = {
    "actor",
    "api",
    "connection_info",
    "data",
    "dst_endpoint",
    "file",
    "process",
    "query",
    "src_endpoint",
}


def ocsf_problems(event: dict[str, Any]) -> list[str]:
    problems: list[str] = []

    def need(obj: dict[str, Any], required: dict[str, type], where: str) -> None:
        for name, kind in required.items():
            value = obj.get(name)
            if not isinstance(value, kind) or isinstance(value, bool) or value in ("", {}):
                problems.append(f"{where}{name}: {value!r} is not a {kind.__name__}")

    need(event, OCSF_REQUIRED, "")
    need(event.get("finding_info", {}), FINDING_INFO_REQUIRED, "finding_info.")
    need(event.get("metadata", {}), METADATA_REQUIRED, "metadata.")
    need(event.get("cloud", {}), CLOUD_REQUIRED, "cloud.")
    for name, allowed in OCSF_ENUMS.items():
        if name in event and event[name] not in allowed:
            problems.append(f"{name}: {event[name]!r} not in {allowed}")
    if (event.get("class_uid"), event.get("category_uid")) != (2004, 2):
        problems.append("not a Detection Finding")
    if event.get("type_uid") != event.get("class_uid", 0) * 100 + event.get("activity_id", 0):
        problems.append("type_uid is not class_uid * 100 + activity_id")
    for n, obs in enumerate(event.get("observables", [])):
        need(obs, OBSERVABLE_REQUIRED, f"observables[{n}].")
    for n, ev in enumerate(event.get("evidences", [])):
        if not set(ev) & EVIDENCE_ATTRIBUTES:
            problems.append(f"evidences[{n}] has none of the evidence attributes")
        if "connection_info" in ev and not isinstance(ev["connection_info"].get("direction_id"), int):
            problems.append(f"evidences[{n}].connection_info.direction_id missing")
        if "query" in ev and not ev["query"].get("hostname"):
            problems.append(f"evidences[{n}].query.hostname missing")
        if "api" in ev and not ev["api"].get("operation"):
            problems.append(f"evidences[{n}].api.operation missing")
    return problems


def test_every_sample_renders_to_a_complete_ocsf_detection_finding(samples: Samples) -> None:
    events = [to_ocsf(f) for f in samples.values()]
    assert {t: p for t, e in zip(samples, events, strict=True) if (p := ocsf_problems(e))} == {}
    assert {e["metadata"]["version"] for e in events} == {"1.1.0"}
    assert all(e["evidences"] for e in events), "every sample has an action, so evidence"


def test_the_ocsf_check_catches_a_broken_event(samples: Samples) -> None:
    good = to_ocsf(samples["UnauthorizedAccess:EC2/SSHBruteForce"])
    assert ocsf_problems(good) == []
    assert ocsf_problems({k: v for k, v in good.items() if k != "finding_info"})
    assert ocsf_problems({**good, "time": "2024-05-01T12:00:00Z"})
    assert ocsf_problems({**good, "type_uid": 200402})
    assert ocsf_problems({**good, "severity_id": 7})


def test_ocsf_of_a_new_network_finding(samples: Samples) -> None:
    finding = samples["UnauthorizedAccess:EC2/SSHBruteForce"]
    event = to_ocsf(finding)
    ms = int(NOW.timestamp() * 1000)
    assert (event["activity_id"], event["type_uid"], event["activity_name"]) == (1, 200401, "Create")
    assert (event["severity_id"], event["status_id"], event["time"]) == (2, 1, ms)
    info = event["finding_info"]
    assert (info["uid"], info["types"], info["created_time"], info["first_seen_time"]) == (
        finding["arn"],
        ["UnauthorizedAccess:EC2/SSHBruteForce"],
        ms,
        ms,
    )
    assert event["cloud"] == {
        "provider": "AWS",
        "region": "us-east-1",
        "account": {"uid": ACCOUNT, "type": "AWS Account", "type_id": 10},
    }
    evidence = event["evidences"][0]
    assert evidence["connection_info"] == {"direction_id": 1, "direction": "Inbound", "protocol_name": "tcp"}
    assert evidence["src_endpoint"]["ip"] == "198.51.100.77"
    assert evidence["src_endpoint"]["autonomous_system"] == {"number": 64500, "name": "EXAMPLE-HOSTING-AS"}
    assert evidence["dst_endpoint"]["port"] == 22
    assert {
        "name": "evidences.src_endpoint.ip",
        "type_id": 2,
        "type": "IP Address",
        "value": "198.51.100.77",
    } in event["observables"]
    assert event["resources"][0]["uid"] == f"arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-1234567890abcdef0"
    assert event["unmapped"]["id"] == finding["id"]
    assert event["unmapped"]["additionalInfo"]["sample"] is True


def test_ocsf_of_an_updated_archived_finding(samples: Samples) -> None:
    finding = copy.deepcopy(samples["Recon:IAMUser/MaliciousIPCaller"])
    finding["service"]["count"] = 3
    finding["updatedAt"] = "2024-05-02T08:30:00.250Z"
    finding["service"]["archived"] = True
    event = to_ocsf(finding)
    assert (event["activity_id"], event["type_uid"], event["type_name"]) == (
        2,
        200402,
        "Detection Finding: Update",
    )
    assert event["time"] == int(datetime(2024, 5, 2, 8, 30, 0, 250000, tzinfo=UTC).timestamp() * 1000)
    assert event["finding_info"]["modified_time"] == event["time"]
    assert (event["status_id"], event["status"], event["severity_id"]) == (3, "Suppressed", 3)
    assert event["count"] == 3
    api = event["evidences"][0]
    assert api["api"]["operation"] == "DescribeSecurityGroups"
    assert api["actor"]["user"]["credential_uid"] == "AKIAIOSFODNN7EXAMPLE"
    assert ocsf_problems(event) == []


def test_ocsf_dns_evidence(samples: Samples) -> None:
    event = to_ocsf(samples["Trojan:EC2/DGADomainRequest.C!DNS"])
    query = event["evidences"][0]["query"]["hostname"]
    domain = samples["Trojan:EC2/DGADomainRequest.C!DNS"]["service"]["action"]["dnsRequestAction"]["domain"]
    assert query == domain
    assert {"name": "evidences.query.hostname", "type_id": 1, "type": "Hostname", "value": domain} in event[
        "observables"
    ]


# ---------------------------------------------------------------- by name


def test_renderings_by_name(samples: Samples) -> None:
    finding = samples["UnauthorizedAccess:EC2/SSHBruteForce"]
    assert set(RENDERINGS) == {"GUARDDUTY", "ASFF", "OCSF"}
    assert render("GUARDDUTY", finding) == finding
    assert render("asff", finding) == to_asff(finding)
    assert render("Ocsf", finding)["class_uid"] == 2004
    with pytest.raises(ConfigError, match="unknown rendering 'CEF'"):
        render("CEF", finding)


def test_guardduty_rendering_is_a_copy(samples: Samples) -> None:
    finding = samples["UnauthorizedAccess:EC2/SSHBruteForce"]
    copied = to_guardduty(finding)
    copied["service"]["count"] = 99
    assert finding["service"]["count"] == 1
