"""Which list version a finding matched: ``threatListVersion`` beside ``threatListName``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from keibi.detect import hits
from keibi.findings import build_findings, validate
from keibi.intel import Intel, IntelList, parse_list
from keibi.pipeline import list_versions, scan
from keibi.store import Store
from tests.findings._batches import BAD_IP, NOW, T0, TYPES, batch

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
STOP = DATASETS / "stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json"
CALLER = "86.245.153.234"  # sourceIPAddress of the StopLogging call in STOP


def _info(finding: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(finding["service"]["additionalInfo"]["value"])
    return value


def _flow_finding(versions: dict[str, str] | None) -> dict[str, Any]:
    frame = batch(
        "vpc_flow",
        [
            {
                "event_time": T0,
                "version": 2,
                "interface_id": "eni-0a1b2c3d",
                "srcaddr": "10.0.1.15",
                "dstaddr": "198.51.100.7",
                "srcport": 50000,
                "dstport": 443,
                "protocol": 6,
                "packets": 3,
                "bytes": 180,
                "action": "ACCEPT",
                "log_status": "OK",
                "instance_id": "i-0abc",
            }
        ],
        threat=["198.51.100.0/24"],
    )
    info = pl.struct(pl.col("remote_custom_list").alias("threatListName")).struct.json_encode()
    found = hits(frame, BAD_IP, key=("instance_id",), info=info)
    (record,) = build_findings(found, frame, "vpc_flow", TYPES, now=NOW, list_versions=versions)
    validate(record.finding)
    return record.finding


def test_version_follows_the_list_name() -> None:
    finding = _flow_finding({"bad-list": "0123456789ab", "other": "ffffffffffff"})
    info = _info(finding)
    keys = list(info)
    assert info["threatListName"] == "bad-list"
    assert info["threatListVersion"] == "0123456789ab"
    assert keys.index("threatListVersion") == keys.index("threatListName") + 1
    # GuardDuty's own evidence shape has no version member: it stays as GuardDuty writes it.
    assert finding["service"]["evidence"] == {"threatIntelligenceDetails": [{"threatListName": "bad-list"}]}


@pytest.mark.parametrize("versions", [None, {}, {"another-list": "0123456789ab"}])
def test_no_version_when_unknown(versions: dict[str, str] | None) -> None:
    info = _info(_flow_finding(versions))
    assert info["threatListName"] == "bad-list"
    assert "threatListVersion" not in info


def test_list_versions_of_intel_first_name_wins() -> None:
    versioned = parse_list(b"203.0.113.9\n", "TXT", where="a.txt", name="a", version="aaaaaaaaaaaa")
    unversioned = IntelList.from_entries("b", ["203.0.113.10"])
    shadowed = parse_list(b"203.0.113.11\n", "TXT", where="a2.txt", name="a", version="bbbbbbbbbbbb")
    feed = parse_list(
        b"198.51.100.1\n", "TXT", where="tor.txt", name="tor", category="Tor", version="cccccccccccc"
    )
    intel = Intel(threat=[versioned, unversioned, shadowed], feeds=[feed])
    assert list_versions(intel) == {"a": "aaaaaaaaaaaa", "tor": "cccccccccccc"}


def test_scan_records_the_version_of_user_lists_and_feeds(tmp_path: Path) -> None:
    """The engine hands each list's version to the builder: a user list's and a feed's."""
    content = f"# bad actors\n{CALLER}\n".encode()
    version = hashlib.sha256(content).hexdigest()[:12]
    threat = parse_list(content, "TXT", where="bad.txt", name="bad-actors", version=version)
    tor = parse_list(
        content, "TXT", where="tor.txt", name="tor-exits", category="Tor", version="70a0e1f2c3d4"
    )
    store = Store.for_data_dir(tmp_path)
    try:
        result = scan(
            [str(STOP)],
            store,
            intel=Intel.with_builtin_feeds(threat=[threat], feeds=[tor]),
            now=NOW,
            parse_workers=0,
        )
    finally:
        store.close()
    by_type = {f["type"]: _info(f) for f in result.findings}
    custom = by_type["UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"]
    assert (custom["threatListName"], custom["threatListVersion"]) == ("bad-actors", version)
    tor_info = by_type["UnauthorizedAccess:IAMUser/TorIPCaller"]
    assert (tor_info["threatListName"], tor_info["threatListVersion"]) == ("tor-exits", "70a0e1f2c3d4")
    assert "threatListVersion" not in by_type["Stealth:IAMUser/CloudTrailLoggingDisabled"]
