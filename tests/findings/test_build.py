"""build_findings on small batches of each source: the exact GuardDuty JSON, validated."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import orjson
import polars as pl
import pytest

from keibi.detect import DetectContext, DetectSettings, hits
from keibi.detect.iam.root_usage import ROOT_CREDENTIAL_USAGE, root_usage
from keibi.findings import Evidence, FindingRecord, build_findings, decode_info, validate
from keibi.findings import build as build_module
from tests.findings._batches import (
    ACCOUNT,
    BAD_IP,
    BUCKET_CALL,
    MINING,
    NOW,
    PROBE,
    REGION,
    T0,
    TYPES,
    batch,
    trail_row,
)

CTX = DetectContext(settings=DetectSettings())


def _hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _built(found: pl.DataFrame, frame: pl.DataFrame, source: Any, **kw: Any) -> list[FindingRecord]:
    records = build_findings(
        found, frame, source, {**TYPES, ROOT_CREDENTIAL_USAGE.type: ROOT_CREDENTIAL_USAGE}, now=NOW, **kw
    )
    for r in records:
        validate(r.finding)
    return records


# -- CloudTrail ----------------------------------------------------------------------------


def test_root_stop_logging_is_the_exact_guardduty_finding() -> None:
    frame = batch(
        "cloudtrail",
        [
            trail_row(0, event_name="DescribeTrails"),
            trail_row(5, user_type="IAMUser", user_name="alice", principal_id="AIDAALICE"),  # not root
            trail_row(9, event_name="StopLogging", user_agent="Boto3/1.34"),
        ],
    )
    found = root_usage(frame, CTX)
    (record,) = _built(found, frame, "cloudtrail", detector="iam.root_usage")
    f = record.finding
    fid = _hex(f"{ACCOUNT}|{REGION}|Policy:IAMUser/RootCredentialUsage|{ACCOUNT}")
    did = _hex(f"detector|{ACCOUNT}|{REGION}")
    info = decode_info(f)
    assert f == {
        "schemaVersion": "2.0",
        "accountId": ACCOUNT,
        "region": REGION,
        "partition": "aws",
        "id": fid,
        "arn": f"arn:aws:guardduty:{REGION}:{ACCOUNT}:detector/{did}/finding/{fid}",
        "type": "Policy:IAMUser/RootCredentialUsage",
        "resource": {
            "resourceType": "AccessKey",
            "accessKeyDetails": {
                "accessKeyId": "ASIAEXAMPLEROOT",
                "principalId": ACCOUNT,
                "userName": "Root",
                "userType": "Root",
            },
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": did,
            "action": {
                "actionType": "AWS_API_CALL",
                "awsApiCallAction": {
                    "api": "StopLogging",
                    "serviceName": "cloudtrail.amazonaws.com",
                    "callerType": "Remote IP",
                    "userAgent": "Boto3/1.34",
                    "remoteIpDetails": {"ipAddressV4": "203.0.113.9"},
                    "affectedResources": {},
                },
            },
            "archived": False,
            "count": 2,
            "eventFirstSeen": "2026-11-20T08:00:00Z",
            "eventLastSeen": "2026-11-20T08:09:00Z",
            "resourceRole": "TARGET",
            "additionalInfo": f["service"]["additionalInfo"],
        },
        "severity": 2.0,
        "createdAt": "2026-11-24T12:00:00.000Z",
        "updatedAt": "2026-11-24T12:00:00.000Z",
        "title": "The API StopLogging was invoked using root credentials.",
        "description": "The API StopLogging was invoked using root credentials from IP address 203.0.113.9.",
    }
    assert f["service"]["additionalInfo"]["type"] == "default"
    assert info == {
        "keibi": {
            "detector": "iam.root_usage",
            "evidence": [
                {
                    "file": "cloudtrail.log",
                    "line": 1,
                    "eventId": "ev-0000",
                    "eventTime": "2026-11-20T08:00:00Z",
                },
                {
                    "file": "cloudtrail.log",
                    "line": 3,
                    "eventId": "ev-0009",
                    "eventTime": "2026-11-20T08:09:00Z",
                },
            ],
            "evidenceCount": 2,
        }
    }
    assert record.evidence == [
        Evidence(file="cloudtrail.log", line=1, event_id="ev-0000", event_time=T0),
        Evidence(file="cloudtrail.log", line=3, event_id="ev-0009", event_time=T0 + timedelta(minutes=9)),
    ]


def test_service_caller_assumed_role_error_and_bucket() -> None:
    frame = batch(
        "cloudtrail",
        [
            trail_row(
                0,
                event_source="s3.amazonaws.com",
                event_name="ListObjects",
                event_category="Data",
                source_ip="2001:db8::7",
                user_type="AssumedRole",
                user_name=None,
                principal_id="AROAEXAMPLE:session",
                session_issuer_user_name="deploy-role",
                error_code="AccessDenied",
                request_parameters='{"bucketName": "payroll", "Host": "payroll.s3.amazonaws.com"}',
            ),
            trail_row(1, event_name="GetTrailStatus", source_ip="ec2.amazonaws.com", user_agent=None),
        ],
        threat=["2001:db8::/32"],
    )
    found = hits(
        frame.head(1),
        BUCKET_CALL,
        key=("principal_id",),
        info=pl.lit('{"threatListName": "bad-list", "x": null}'),
    )
    (bucket,) = _built(found, frame, "cloudtrail")
    f = bucket.finding
    assert f["resource"] == {
        "resourceType": "S3Bucket",
        "accessKeyDetails": {
            "accessKeyId": "ASIAEXAMPLEROOT",
            "principalId": "AROAEXAMPLE:session",
            "userName": "deploy-role",
            "userType": "AssumedRole",
        },
        "s3BucketDetails": [{"arn": "arn:aws:s3:::payroll", "name": "payroll", "type": "Destination"}],
    }
    call = f["service"]["action"]["awsApiCallAction"]
    assert call["affectedResources"] == {"AWS::S3::Bucket": "payroll"}
    assert "remoteAccountDetails" not in call
    assert call["errorCode"] == "AccessDenied"
    assert call["remoteIpDetails"] == {"ipAddressV6": "2001:db8::7"}
    assert f["service"]["evidence"] == {"threatIntelligenceDetails": [{"threatListName": "bad-list"}]}
    assert f["title"] == "S3 API ListObjects was invoked on payroll by deploy-role."
    assert f["description"] == (
        "AROAEXAMPLE:session called ListObjects on bucket payroll from 2001:db8::7 (bad-list); unknown."
    )
    assert decode_info(f)["threatListName"] == "bad-list"
    assert "x" not in decode_info(f)

    service_call = hits(frame.tail(1), ROOT_CREDENTIAL_USAGE, key=("principal_id",))
    (svc,) = _built(service_call, frame, "cloudtrail", partition="aws-cn")
    call = svc.finding["service"]["action"]["awsApiCallAction"]
    assert call["callerType"] == "Domain"
    assert call["domainDetails"] == {"domain": "ec2.amazonaws.com"}
    assert "remoteIpDetails" not in call and "userAgent" not in call
    assert call["affectedResources"] == {}
    assert svc.finding["arn"].startswith("arn:aws-cn:guardduty:")
    assert svc.finding["description"].endswith("from IP address unknown.")


# -- VPC flow ------------------------------------------------------------------------------


def flow(minutes: int, **fields: Any) -> dict[str, Any]:
    return {
        "event_time": T0 + timedelta(minutes=minutes),
        "version": 5,
        "interface_id": "eni-0a1b2c3d",
        "srcaddr": "198.51.100.7",
        "dstaddr": "10.0.1.15",
        "srcport": 51000 + minutes,
        "dstport": 22,
        "protocol": 6,
        "packets": 10,
        "bytes": 840,
        "action": "ACCEPT",
        "log_status": "OK",
        "vpc_id": "vpc-0123",
        "subnet_id": "subnet-0456",
        "instance_id": "i-0abc",
        "flow_direction": "ingress",
        **fields,
    }


def test_network_connection_from_enriched_flows() -> None:
    frame = batch(
        "vpc_flow",
        [flow(0), flow(3, action="REJECT"), flow(1, srcaddr="192.0.2.1")],
        threat=["198.51.100.0/24"],
    )
    listed = frame.filter(pl.col("remote_custom_list").is_not_null())
    info = pl.struct(pl.col("remote_custom_list").alias("threatListName")).struct.json_encode()
    (record,) = _built(hits(listed, BAD_IP, key=("instance_id",), info=info), frame, "vpc_flow")
    f = record.finding
    assert f["resource"] == {
        "resourceType": "Instance",
        "instanceDetails": {
            "instanceId": "i-0abc",
            "networkInterfaces": [
                {
                    "networkInterfaceId": "eni-0a1b2c3d",
                    "privateIpAddress": "10.0.1.15",
                    "subnetId": "subnet-0456",
                    "vpcId": "vpc-0123",
                }
            ],
        },
    }
    assert f["service"]["action"] == {
        "actionType": "NETWORK_CONNECTION",
        "networkConnectionAction": {
            "connectionDirection": "INBOUND",
            "protocol": "TCP",
            "blocked": True,  # the latest flow was rejected
            "localNetworkInterface": "eni-0a1b2c3d",
            "localPortDetails": {"port": 22, "portName": "SSH"},
            "remotePortDetails": {"port": 51003, "portName": "Unknown"},
            "localIpDetails": {"ipAddressV4": "10.0.1.15"},
            "remoteIpDetails": {"ipAddressV4": "198.51.100.7"},
        },
    }
    assert f["service"]["evidence"] == {"threatIntelligenceDetails": [{"threatListName": "bad-list"}]}
    assert f["service"]["count"] == 2
    assert f["title"] == "EC2 instance i-0abc is communicating with 198.51.100.7 on port 22."
    assert f["description"] == "INBOUND TCP connection; list bad-list; 2 flows."
    assert [(e.line, e.event_id) for e in record.evidence] == [(1, None), (2, None)]
    assert "eventId" not in decode_info(f)["keibi"]["evidence"][0]


def test_v2_flow_without_instance_names_the_eni_and_unenriched_frames_work() -> None:
    rows = [
        flow(
            0,
            version=2,
            instance_id=None,
            vpc_id=None,
            subnet_id=None,
            flow_direction=None,
            protocol=17,
            dstport=443,
        )
    ]
    frame = batch("vpc_flow", rows)
    raw = frame.select(
        c
        for c in frame.columns
        if c not in ("direction", "local_ip", "local_port", "remote_ip", "remote_port")
    )
    found = hits(frame, BAD_IP, key=("interface_id",))
    (enriched,) = _built(found, frame, "vpc_flow")
    (plain,) = _built(found, raw, "vpc_flow")
    assert enriched.finding == plain.finding
    f = enriched.finding
    assert f["resource"]["instanceDetails"] == {
        "networkInterfaces": [{"networkInterfaceId": "eni-0a1b2c3d", "privateIpAddress": "10.0.1.15"}]
    }
    conn = f["service"]["action"]["networkConnectionAction"]
    assert (conn["protocol"], conn["localPortDetails"], conn["blocked"]) == (
        "UDP",
        {"port": 443, "portName": "HTTPS"},
        False,
    )
    assert f["title"] == "EC2 instance eni-0a1b2c3d is communicating with 198.51.100.7 on port 443."


def test_port_probe_shape() -> None:
    frame = batch("vpc_flow", [flow(0, dstport=9200, action="REJECT")])
    (record,) = _built(hits(frame, PROBE, key=("instance_id",), severity=8.0), frame, "vpc_flow")
    assert record.finding["service"]["action"] == {
        "actionType": "PORT_PROBE",
        "portProbeAction": {
            "blocked": True,
            "portProbeDetails": [
                {
                    "localPortDetails": {"port": 9200, "portName": "Elasticsearch"},
                    "localIpDetails": {"ipAddressV4": "10.0.1.15"},
                    "remoteIpDetails": {"ipAddressV4": "198.51.100.7"},
                }
            ],
        },
    }
    assert record.finding["severity"] == 8.0
    assert "description" not in record.finding


# -- DNS -----------------------------------------------------------------------------------


def query(minutes: int, name: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_time": T0 + timedelta(minutes=minutes),
        "version": "1.100000",
        "vpc_id": "vpc-0123",
        "query_name": name,
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "srcaddr": "10.0.1.15",
        "srcport": 40000,
        "transport": "UDP",
        "instance_id": "i-0abc",
        **fields,
    }


def test_dns_request_with_registrable_domain_and_threat_names() -> None:
    frame = batch(
        "dns",
        [query(0, "pool.example.com."), query(2, "XMR-EU1.nanopool.org.", firewall_rule_action="BLOCK")],
    )
    info = pl.lit('{"threatListName": "keibi-mining-pools", "threatNames": ["monero"]}')
    (record,) = _built(
        hits(frame, MINING, key=("instance_id",), resource_role="ACTOR", info=info), frame, "dns"
    )
    f = record.finding
    assert f["service"]["action"] == {
        "actionType": "DNS_REQUEST",
        "dnsRequestAction": {
            "domain": "xmr-eu1.nanopool.org",
            "domainWithSuffix": "nanopool.org",
            "protocol": "UDP",
            "blocked": True,
            "vpcOwnerAccountId": ACCOUNT,
        },
    }
    assert f["service"]["evidence"] == {
        "threatIntelligenceDetails": [{"threatListName": "keibi-mining-pools", "threatNames": ["monero"]}]
    }
    assert f["resource"] == {
        "resourceType": "Instance",
        "instanceDetails": {
            "instanceId": "i-0abc",
            "networkInterfaces": [{"privateIpAddress": "10.0.1.15", "vpcId": "vpc-0123"}],
        },
    }
    assert f["service"]["resourceRole"] == "ACTOR"
    assert (
        f["description"] == "EC2 instance i-0abc is querying the domain name xmr-eu1.nanopool.org (monero)."
    )


def test_dns_suffix_of_a_bare_public_suffix_is_itself() -> None:
    frame = batch("dns", [query(0, "co.uk."), query(1, "a.b.example.co.uk")])
    found = hits(frame, MINING, key=("query_name",))
    by_domain = {
        r.finding["service"]["action"]["dnsRequestAction"]["domain"]: r.finding["service"]["action"][
            "dnsRequestAction"
        ]
        for r in _built(found, frame, "dns")
    }
    assert by_domain["co.uk"]["domainWithSuffix"] == "co.uk"
    assert by_domain["a.b.example.co.uk"]["domainWithSuffix"] == "example.co.uk"
    assert by_domain["co.uk"]["blocked"] is False


# -- ids, evidence, errors -----------------------------------------------------------------


def test_ids_are_deterministic_and_keyed() -> None:
    frame = batch("cloudtrail", [trail_row(0), trail_row(1, principal_id="other")])
    found = hits(frame, ROOT_CREDENTIAL_USAGE, key=("principal_id",))
    first = [r.finding["id"] for r in _built(found, frame, "cloudtrail")]
    again = [r.finding["id"] for r in _built(found, frame, "cloudtrail")]
    assert first == again
    assert len(set(first)) == 2
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in first)


def test_pointers_keep_the_newest_twenty_and_records_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    frame = batch("cloudtrail", [trail_row(m) for m in reversed(range(30))])  # file order is newest first
    found = hits(frame, ROOT_CREDENTIAL_USAGE, key=("principal_id",))
    (record,) = _built(found, frame, "cloudtrail")
    block = decode_info(record.finding)["keibi"]
    assert block["evidenceCount"] == 30
    assert [p["eventId"] for p in block["evidence"]] == [f"ev-{m:04d}" for m in range(10, 30)]
    assert len(record.evidence) == 30
    monkeypatch.setattr(build_module, "EVIDENCE_CAP", 5)
    (capped,) = _built(found, frame, "cloudtrail")
    assert [e.event_id for e in capped.evidence] == [f"ev-{m:04d}" for m in range(25, 30)]
    assert capped.finding["service"]["count"] == 30


def test_empty_hits_build_nothing() -> None:
    frame = batch("cloudtrail", [trail_row(0)])
    assert (
        build_findings(
            hits(frame.clear(), ROOT_CREDENTIAL_USAGE, key=("principal_id",)),
            frame,
            "cloudtrail",
            TYPES,
            now=NOW,
        )
        == []
    )


def test_errors_name_the_problem() -> None:
    frame = batch("cloudtrail", [trail_row(0)])
    found = hits(frame, ROOT_CREDENTIAL_USAGE, key=("principal_id",))
    with pytest.raises(ValueError, match="no registered detector declares"):
        build_findings(found, frame, "cloudtrail", {}, now=NOW)
    with pytest.raises(ValueError, match="needs vpc_flow records, got cloudtrail"):
        build_findings(
            found.with_columns(pl.lit(BAD_IP.type).alias("type")), frame, "cloudtrail", TYPES, now=NOW
        )
    with pytest.raises(ValueError, match="row 7"):
        build_findings(
            found.with_columns(pl.lit(7, pl.UInt32).alias("last_row")), frame, "cloudtrail", TYPES, now=NOW
        )


def test_info_that_is_not_an_object_is_kept() -> None:
    frame = batch("cloudtrail", [trail_row(0)])
    found = hits(frame, ROOT_CREDENTIAL_USAGE, key=("principal_id",), info=pl.lit("[1, 2]"))
    (record,) = _built(found, frame, "cloudtrail")
    assert orjson.loads(record.finding["service"]["additionalInfo"]["value"])["info"] == [1, 2]
