"""The tester writes AWS's real delivery layouts, deterministically, with a manifest of every scenario."""

from __future__ import annotations

import gzip
import ipaddress
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from keibi.intel import address_table, builtin_aws_ranges, load_feed
from keibi.tester import MANIFEST_FILE, Manifest, generate
from keibi.tester.bulk import write_bulk
from keibi.tester.flowlogs import V2_FIELDS, V5_FIELDS

SCALE = 0.2
SCENARIO_TYPES = {
    "Policy:IAMUser/RootCredentialUsage",
    "Policy:IAMUser/ShortTermRootCredentialUsage",
    "Stealth:IAMUser/CloudTrailLoggingDisabled",
    "Stealth:IAMUser/PasswordPolicyChange",
    "DefenseEvasion:IAMUser/BedrockLoggingDisabled",
    "PenTest:IAMUser/KaliLinux",
    "PenTest:IAMUser/ParrotLinux",
    "PenTest:IAMUser/PentooLinux",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.OutsideAWS",
    "UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.InsideAWS",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller",
    "Recon:IAMUser/MaliciousIPCaller",
    "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
    "Recon:IAMUser/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:IAMUser/TorIPCaller",
    "Recon:IAMUser/TorIPCaller",
    "Policy:S3/AccountBlockPublicAccessDisabled",
    "Policy:S3/BucketBlockPublicAccessDisabled",
    "Policy:S3/BucketAnonymousAccessGranted",
    "Policy:S3/BucketPublicAccessGranted",
    "Stealth:S3/ServerAccessLoggingDisabled",
    "PenTest:S3/KaliLinux",
    "PenTest:S3/ParrotLinux",
    "PenTest:S3/PentooLinux",
    "Discovery:S3/MaliciousIPCaller",
    "Exfiltration:S3/MaliciousIPCaller",
    "Impact:S3/MaliciousIPCaller",
    "Discovery:S3/MaliciousIPCaller.Custom",
    "UnauthorizedAccess:S3/MaliciousIPCaller.Custom",
    "Discovery:S3/TorIPCaller",
    "UnauthorizedAccess:S3/TorIPCaller",
    "Recon:EC2/Portscan",
    "Impact:EC2/PortSweep",
    "Recon:EC2/PortProbeUnprotectedPort",
    "Recon:EC2/PortProbeEMRUnprotectedPort",
    "UnauthorizedAccess:EC2/SSHBruteForce",
    "UnauthorizedAccess:EC2/RDPBruteForce",
    "Impact:EC2/WinRMBruteForce",
    "Backdoor:EC2/DenialOfService.Tcp",
    "Backdoor:EC2/DenialOfService.Udp",
    "Backdoor:EC2/DenialOfService.Dns",
    "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
    "Backdoor:EC2/DenialOfService.UnusualProtocol",
    "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    "Impact:EC2/MaliciousDomainRequest.Custom",
    "Trojan:EC2/DNSDataExfiltration",
    "UnauthorizedAccess:EC2/MetadataDNSRebind",
    "Trojan:EC2/DGADomainRequest.B",
    "Impact:EC2/AbusedDomainRequest.Reputation",
    "Impact:EC2/BitcoinDomainRequest.Reputation",
    "Impact:EC2/MaliciousDomainRequest.Reputation",
    "Impact:EC2/SuspiciousDomainRequest.Reputation",
    "Backdoor:EC2/C&CActivity.B",
    "Backdoor:EC2/C&CActivity.B!DNS",
    "CryptoCurrency:EC2/BitcoinTool.B",
    "Trojan:EC2/BlackholeTraffic",
    "Trojan:EC2/BlackholeTraffic!DNS",
    "Trojan:EC2/DropPoint",
    "Trojan:EC2/DropPoint!DNS",
    "Trojan:EC2/DriveBySourceTraffic!DNS",
    "Trojan:EC2/PhishingDomainRequest!DNS",
    "Trojan:EC2/DGADomainRequest.C!DNS",
    "UnauthorizedAccess:EC2/TorClient",
    "UnauthorizedAccess:EC2/TorRelay",
}
STAMP = r"\d{8}T\d{4}Z"
LAYOUTS = {
    "cloudtrail": re.compile(
        rf"AWSLogs/(\d{{12}})/CloudTrail/([a-z]{{2}}-[a-z]+-\d)/\d{{4}}/\d\d/\d\d/\1_CloudTrail_\2_{STAMP}_[A-Za-z0-9]{{16}}\.json\.gz"
    ),
    "vpc_flow": re.compile(
        rf"AWSLogs/(\d{{12}})/vpcflowlogs/([a-z]{{2}}-[a-z]+-\d)/\d{{4}}/\d\d/\d\d/\1_vpcflowlogs_\2_fl-[0-9a-f]{{17}}_{STAMP}_[0-9a-f]{{8}}\.log\.gz"
    ),
    "dns": re.compile(
        rf"AWSLogs/(\d{{12}})/vpcdnsquerylogs/(vpc-[0-9a-f]{{17}})/\d{{4}}/\d\d/\d\d/\1_vpcdnsquerylogs_\2_{STAMP}_[0-9a-f]{{8}}\.log\.gz"
    ),
}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("tester")
    return root, generate(root, seed=7, scale=SCALE)


def _files(root: Path, kind: str) -> list[Path]:
    return [p for p in sorted(root.rglob("*.gz")) if LAYOUTS[kind].fullmatch(p.relative_to(root).as_posix())]


def test_same_seed_same_bytes_other_seed_other_bytes(out: tuple[Path, Manifest], tmp_path: Path) -> None:
    root, manifest = out
    again = generate(tmp_path / "again", seed=7, scale=SCALE)
    other = generate(tmp_path / "other", seed=8, scale=SCALE)
    assert again.files == manifest.files
    for rel in manifest.files:
        assert (tmp_path / "again" / rel).read_bytes() == (root / rel).read_bytes(), rel
    assert (tmp_path / "again" / MANIFEST_FILE).read_bytes() == (root / MANIFEST_FILE).read_bytes()
    assert other.account_id != manifest.account_id


def test_every_file_is_in_an_aws_delivery_layout(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    assert manifest.files, "nothing written"
    per_kind = {kind: _files(root, kind) for kind in LAYOUTS}
    assert sum(len(v) for v in per_kind.values()) == len(manifest.files)
    assert all(per_kind.values()), {k: len(v) for k, v in per_kind.items()}
    regions = {p.relative_to(root).parts[3] for p in per_kind["cloudtrail"]}
    assert regions == {"us-east-1", "eu-west-1"}


def test_manifest_lists_every_scenario_type(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    assert manifest.finding_types() == SCENARIO_TYPES
    on_disk = orjson.loads((root / MANIFEST_FILE).read_bytes())
    assert {s["finding_type"] for s in on_disk["scenarios"]} == SCENARIO_TYPES
    assert len({s["name"] for s in on_disk["scenarios"]}) == len(on_disk["scenarios"])
    ssh = [s for s in manifest.scenarios if s.finding_type == "UnauthorizedAccess:EC2/SSHBruteForce"]
    assert {s.key["direction"] for s in ssh} == {"INBOUND", "OUTBOUND"}
    for s in manifest.scenarios:
        assert s.records > 0 and s.files, s.name
        assert all((root / f).is_file() for f in s.files)
        assert set(s.files) <= set(manifest.files)


def test_every_registered_type_has_a_scenario() -> None:
    """A scenario may wait for its detector (``test_scenarios_detected`` asserts it once the
    type is registered), but no registered type goes without a scenario, here or in the month
    of history behaviour baselines need (``test_history_detected``)."""
    from keibi.detect import detectors
    from keibi.tester.history_scenarios import BEHAVIOR_TYPES

    registered = set(detectors.load().finding_types())
    assert registered - SCENARIO_TYPES - BEHAVIOR_TYPES == set()  # behaviour types: in ``generate_history``


def test_cloudtrail_records_are_complete(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    required = {
        "eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion", "sourceIPAddress",
        "userAgent", "eventID", "readOnly", "eventType", "managementEvent", "recipientAccountId", "eventCategory",
    }  # fmt: skip
    records = []
    for path in _files(root, "cloudtrail"):
        body = orjson.loads(gzip.decompress(path.read_bytes()))
        assert list(body) == ["Records"]
        records += body["Records"]
        times = [r["eventTime"] for r in body["Records"]]
        assert times == sorted(times), path
    assert len(records) == manifest.records["cloudtrail"]
    for rec in records:
        assert required <= rec.keys(), rec
        assert rec["eventVersion"] in ("1.08", "1.09", "1.10")
        assert uuid.UUID(rec["eventID"]).version == 4
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", rec["eventTime"])
        assert rec["recipientAccountId"] == manifest.account_id
    kinds = {(r["eventType"], r["eventCategory"]) for r in records}
    assert {("AwsApiCall", "Management"), ("AwsApiCall", "Data"), ("AwsConsoleSignIn", "Management")} <= kinds
    data = [r for r in records if r["eventCategory"] == "Data"]
    assert {r["eventName"] for r in data} == {
        "GetObject",
        "PutObject",
        "ListObjects",
        "GetObjectAcl",
        "DeleteObject",
    }
    for r in data:
        assert r["managementEvent"] is False and r["eventSource"] == "s3.amazonaws.com"
        bucket = r["requestParameters"]["bucketName"]
        assert {
            "type": "AWS::S3::Bucket",
            "ARN": f"arn:aws:s3:::{bucket}",
            "accountId": manifest.account_id,
        } in r["resources"]
        assert {"bytesTransferredIn", "bytesTransferredOut", "x-amz-id-2"} <= r["additionalEventData"].keys()
        assert r["userAgent"].startswith("[") and r["userAgent"].endswith("]")
    assert {
        r["eventName"] for r in records if r["eventSource"] == "s3.amazonaws.com" and not r["readOnly"]
    } >= {
        "PutBucketPolicy",
        "PutBucketAcl",
        "PutBucketLogging",
        "PutBucketPublicAccessBlock",
        "DeleteBucketPublicAccessBlock",
        "PutAccountPublicAccessBlock",
    }
    services = [r for r in records if r["userIdentity"].get("invokedBy")]
    assert services and all(r["sourceIPAddress"].endswith(".amazonaws.com") for r in services)
    assert any(r["userIdentity"]["type"] == "Root" and r["eventType"] == "AwsConsoleSignIn" for r in records)
    with_tls = [r for r in records if "tlsDetails" in r]
    assert with_tls and all(r["tlsDetails"]["tlsVersion"].startswith("TLSv1.") for r in with_tls)


def _flow_frames(root: Path) -> list[tuple[list[str], pl.DataFrame]]:
    out = []
    for path in _files(root, "vpc_flow"):
        text = gzip.decompress(path.read_bytes())
        header = text.split(b"\n", 1)[0].decode().split(" ")
        frame = pl.read_csv(text, separator=" ", infer_schema=False, null_values="-")
        out.append((header, frame))
    return out


def test_flow_logs_have_headers_both_formats_and_aws_records(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    frames = _flow_frames(root)
    headers = {tuple(h) for h, _ in frames}
    assert headers == {tuple(V2_FIELDS), tuple(V5_FIELDS)}
    flows = pl.concat([f.select(V2_FIELDS) for _, f in frames])
    assert flows.height == manifest.records["vpc_flow"]
    assert set(flows["action"].drop_nulls()) == {"ACCEPT", "REJECT"}
    nodata = flows.filter(pl.col("log-status") == "NODATA")
    assert nodata.height > 0 and nodata["srcaddr"].null_count() == nodata.height
    ok = flows.filter(pl.col("log-status") == "OK")
    assert ok["protocol"].unique().sort().to_list() == ["1", "17", "47", "6"]  # 47: GRE, the DoS scenario
    assert (ok["end"].cast(pl.Int64) >= ok["start"].cast(pl.Int64)).all()
    v5 = pl.concat([f for h, f in frames if h == V5_FIELDS])
    assert v5["instance-id"].drop_nulls().n_unique() == 1
    assert set(v5["flow-direction"]) == {"ingress", "egress"}
    assert {"3", "19"} <= set(v5["tcp-flags"])


def test_scenarios_cross_thresholds_and_background_does_not(out: tuple[Path, Manifest]) -> None:
    """Outbound distinct ports per (instance, remote, 10 min): only the scanner reaches 25.

    Only records leaving an ephemeral port count as attempts: a server's replies to a busy
    NAT client (or to an RDP or WinRM brute forcer, from 3389/5986) also go from a private to a
    public address, to many distinct ports.
    """
    root, manifest = out
    flows = pl.concat([f.select(V2_FIELDS) for _, f in _flow_frames(root)]).filter(
        pl.col("log-status") == "OK"
    )
    private = pl.col("srcaddr").str.starts_with("10.") & ~pl.col("dstaddr").str.starts_with("10.")
    private = private & (pl.col("srcport").cast(pl.Int64) >= 32768)
    window = pl.col("start").cast(pl.Int64) // 600
    ports = (
        flows.filter(private)
        .group_by("srcaddr", "dstaddr", window.alias("w"))
        .agg(pl.col("dstport").n_unique().alias("ports"))
        .filter(pl.col("ports") >= 25)
    )
    scan = next(s for s in manifest.scenarios if s.finding_type == "Recon:EC2/Portscan")
    assert set(ports["dstaddr"]) == {scan.key["remote_ip"]}
    ssh = (
        flows.filter(pl.col("dstport") == "22")
        .group_by("srcaddr", "dstaddr")
        .agg(pl.col("srcport").n_unique().alias("n"))
    )
    brute = {s.key["remote_ip"] for s in manifest.scenarios if s.finding_type.endswith("SSHBruteForce")}
    assert {r for pair in ssh.filter(pl.col("n") >= 20).select("srcaddr", "dstaddr").rows() for r in pair} - {
        ip
        for ip in ssh["srcaddr"].to_list() + ssh["dstaddr"].to_list()
        if ipaddress.ip_address(ip).is_private
    } == brute


def test_dns_lines_carry_resolver_fields(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    lines = [
        orjson.loads(line)
        for p in _files(root, "dns")
        for line in gzip.decompress(p.read_bytes()).splitlines()
    ]
    assert len(lines) == manifest.records["dns"]
    first = lines[0]
    assert list(first) == [
        "version", "account_id", "region", "vpc_id", "query_timestamp", "query_name", "query_type", "query_class",
        "rcode", "answers", "srcaddr", "srcport", "transport", "srcids",
    ]  # fmt: skip
    assert all(q["version"] == "1.100000" and q["query_name"].endswith(".") for q in lines)
    assert all(isinstance(q["srcport"], str) and q["srcids"]["instance"].startswith("i-") for q in lines)
    assert {q["rcode"] for q in lines} >= {"NOERROR", "NXDOMAIN"}
    names = {q["query_name"] for q in lines}
    assert "pool.supportxmr.com." in names and any(n.endswith(".cloudfront.net.") for n in names)


def test_threat_and_trusted_lists(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    threat = (root / manifest.threat_list).read_text().splitlines()
    trusted = (root / manifest.trusted_list).read_text().splitlines()
    entries = [e for e in threat if e and not e.startswith("#")]
    assert any("/" in e for e in entries) and any(e[0].isalpha() for e in entries)
    both = set(entries) & {e for e in trusted if e and not e.startswith("#")}
    assert len(both) == 1
    (ip,) = both
    flows = pl.concat([f.select(V2_FIELDS) for _, f in _flow_frames(root)])
    assert flows.filter(pl.col("srcaddr") == ip).height > 0, (
        "the trusted+threat address must generate traffic"
    )


def _cloudtrail(root: Path) -> list[dict[str, Any]]:
    return [
        r
        for p in _files(root, "cloudtrail")
        for r in orjson.loads(gzip.decompress(p.read_bytes()))["Records"]
    ]


def _feed(root: Path, path: str) -> set[str]:
    return {e for e in (root / path).read_text().splitlines() if e and not e.startswith("#")}


def test_feeds_are_written_and_the_trusted_address_is_on_one(out: tuple[Path, Manifest]) -> None:
    root, manifest = out
    assert manifest.feeds[:2] == (("Tor", "lists/tor-exits.txt"), ("Malicious", "lists/malicious-ips.txt"))
    assert [c for c, _ in manifest.feeds[2:]] == [
        "TorRelay", "CommandAndControl", "DropPoint", "Blackhole", "CryptoCurrency", "Phishing",
        "MalwareDistribution", "DGA",
    ]  # fmt: skip
    feeds = {category: _feed(root, path) for category, path in manifest.feeds}
    for category, path in manifest.feeds:
        assert len(load_feed(root / path, category)) == len(feeds[category])
    addresses = {e for entries in feeds.values() for e in entries if e[0].isdigit()}
    assert all(ipaddress.ip_address(e).is_global for e in addresses)
    assert not feeds["Tor"] & feeds["Malicious"]
    assert feeds["Tor"] < feeds["TorRelay"], "the full Tor list holds the exits too (matched after them)"
    trusted_and_listed = (
        _feed(root, manifest.trusted_list) & feeds["Malicious"] & _feed(root, manifest.threat_list)
    )
    assert len(trusted_and_listed) == 1
    callers = [r for r in _cloudtrail(root) if r["sourceIPAddress"] in trusted_and_listed]
    assert {r["eventCategory"] for r in callers} == {"Management", "Data"}, (
        "the trusted address must call APIs"
    )
    by_feed = {
        category: {s.finding_type for s in manifest.scenarios if s.key.get("remote_ip") in entries}
        for category, entries in feeds.items()
    }
    assert {t.split("/")[1] for t in by_feed["Tor"]} == {"TorIPCaller"}
    assert {t.split("/")[1] for t in by_feed["Malicious"]} == {"MaliciousIPCaller"}
    assert by_feed["CommandAndControl"] == {"Backdoor:EC2/C&CActivity.B"}
    assert by_feed["DropPoint"] == {"Trojan:EC2/DropPoint"}
    assert by_feed["Blackhole"] == {"Trojan:EC2/BlackholeTraffic"}
    assert by_feed["CryptoCurrency"] == {"CryptoCurrency:EC2/BitcoinTool.B"}
    assert {"UnauthorizedAccess:EC2/TorClient"} <= by_feed["TorRelay"]


def _aws(ips: set[str]) -> set[str]:
    return set(builtin_aws_ranges().match(address_table(pl.Series(sorted(ips), dtype=pl.String)))["value"])


def test_compute_credentials_leave_aws_only_in_the_exfiltration_scenarios(out: tuple[Path, Manifest]) -> None:
    """Instance, Lambda and ECS role sessions are used from AWS addresses or the account's own
    VPC endpoints, except by the scenarios: from outside AWS, or another account's endpoint."""
    root, manifest = out
    records = _cloudtrail(root)
    issued = {
        r["responseElements"]["credentials"]["accessKeyId"]
        for r in records
        if r["eventName"] == "AssumeRole"
        and r["userIdentity"].get("invokedBy") in ("lambda.amazonaws.com", "ecs-tasks.amazonaws.com")
    }
    compute = [
        r
        for r in records
        if r["userIdentity"].get("sessionContext", {}).get("ec2RoleDelivery") == "2.0"
        or r["userIdentity"].get("accessKeyId") in issued
    ]
    exfiltration = {
        s.key["access_key_id"]: s for s in manifest.scenarios if "CredentialExfiltration" in s.finding_type
    }
    assert len(exfiltration) == 4 and set(exfiltration) <= {r["userIdentity"]["accessKeyId"] for r in compute}
    own: list[dict[str, Any]] = []
    stolen: list[dict[str, Any]] = []
    for r in compute:
        scenario = exfiltration.get(r["userIdentity"]["accessKeyId"])
        (stolen if scenario and r["sourceIPAddress"] == scenario.key["remote_ip"] else own).append(r)
    public = {r["sourceIPAddress"] for r in own if not ipaddress.ip_address(r["sourceIPAddress"]).is_private}
    assert public and _aws(public) == public
    assert all(
        r.get("vpcEndpointAccountId") == manifest.account_id
        for r in own
        if r["sourceIPAddress"] not in public
    )
    outside = {
        r["sourceIPAddress"]
        for r in stolen
        if "OutsideAWS" in exfiltration[r["userIdentity"]["accessKeyId"]].finding_type
    }
    assert outside and not _aws(outside) and all(ipaddress.ip_address(ip).is_global for ip in outside)
    inside = [r for r in stolen if r["sourceIPAddress"] not in outside]
    assert inside and all(
        r.get("vpcEndpointAccountId") not in (None, "", manifest.account_id) for r in inside
    )


def test_scale_multiplies_the_background(tmp_path: Path, out: tuple[Path, Manifest]) -> None:
    _, manifest = out
    bigger = generate(tmp_path, seed=7, scale=2 * SCALE)
    for source in ("cloudtrail", "vpc_flow", "dns"):
        assert bigger.records[source] > 1.5 * manifest.records[source], source
    assert [s.records for s in bigger.scenarios] == [s.records for s in manifest.scenarios]


def test_bulk_writes_at_least_the_asked_records(tmp_path: Path) -> None:
    n = write_bulk(tmp_path / "flow", "vpc_flow", 50_000)
    assert n >= 50_000
    files = sorted((tmp_path / "flow").rglob("*.log.gz"))
    assert files and all(
        LAYOUTS["vpc_flow"].fullmatch(p.relative_to(tmp_path / "flow").as_posix()) for p in files
    )
    total = sum(pl.read_csv(gzip.decompress(p.read_bytes()), separator=" ").height for p in files)
    assert total == n
    assert write_bulk(tmp_path / "ct", "cloudtrail", 3_000) >= 3_000
    assert write_bulk(tmp_path / "dns", "dns", 3_000) >= 3_000
