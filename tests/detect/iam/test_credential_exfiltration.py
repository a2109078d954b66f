"""Instance and resource (Lambda, ECS) credential exfiltration on CloudTrail samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from keibi.detect.iam.credential_exfiltration import DETECTOR_ID, LATENESS, MAX_SESSION
from keibi.findings import decode_info
from keibi.intel import Intel, builtin_aws_ranges
from keibi.pipeline import Engine
from keibi.sources import Report, plan, read
from keibi.store import Store
from tests.dbs import postgres_url, sqlite_url
from tests.detect._frames import check, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "iam.credential_exfiltration"
SAMPLES = sample_dir(DETECTOR)
PREFIX = "UnauthorizedAccess:IAMUser/"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def _info(finding: dict[str, Any]) -> dict[str, Any]:
    info = decode_info(finding)
    info.pop("keibi", None)
    return info


def _records(name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((SAMPLES / name).read_text())["Records"]
    return records


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"Records": records}))
    return path


def test_finding_says_which_range_decided() -> None:
    [finding] = scan_findings([SAMPLES / "hit_instance_outside_aws.json"])
    assert finding["type"] == PREFIX + "InstanceCredentialExfiltration.OutsideAWS"
    assert finding["severity"] == 8.0
    assert finding["resource"]["accessKeyDetails"]["accessKeyId"] == "ASIA3EXAMPLEINST0001"
    assert finding["title"] == "Credentials for instance role web-server-role used from external IP address."
    assert "45.33.32.156" in finding["description"] and "i-0a1b2c3d4e5f67890" in finding["description"]
    assert _info(finding) == {
        "outsideAws": True,
        "decidedBy": f"not in any prefix of ip-ranges.json createDate {builtin_aws_ranges().create_date}",
        "instanceId": "i-0a1b2c3d4e5f67890",
    }


def test_inside_aws_names_the_account_and_the_range(tmp_path: Path) -> None:
    """Through another account's endpoint from an address that is AWS's: both are said."""
    records = _records("hit_instance_inside_aws_vpce.json")
    for record in records:
        record["sourceIPAddress"] = "3.91.12.40"
    [finding] = scan_findings([_write(tmp_path / "vpce.json", records)])
    assert finding["type"] == PREFIX + "InstanceCredentialExfiltration.InsideAWS"
    assert finding["severity"] == 8.0
    assert _info(finding) == {
        "remoteAccountId": "444455556666",
        "affiliated": False,
        "vpcEndpointId": "vpce-0f1e2d3c4b5a69788",
        "decidedBy": "vpcEndpointAccountId 444455556666 is not the credentials' account 111122223333",
        "instanceId": "i-0a1b2c3d4e5f67890",
        "awsIpRange": {"prefix": "3.80.0.0/12", "region": "us-east-1", "service": "EC2"},
    }


def test_affiliated_only_once_its_logs_were_read(tmp_path: Path) -> None:
    """The remote account's own event must come at or before the call (event time)."""
    first, call = _records("hit_instance_inside_aws_affiliated.json")
    first["eventTime"] = "2024-09-11T14:30:00Z"  # now after the call
    [finding] = scan_findings([_write(tmp_path / "late.json", [first, call])])
    assert finding["severity"] == 8.0
    assert _info(finding)["affiliated"] is False
    [medium] = scan_findings([SAMPLES / "hit_instance_inside_aws_affiliated.json"])
    assert medium["severity"] == 5.0
    assert _info(medium)["remoteAccountId"] == "555566667777" and _info(medium)["affiliated"] is True


def test_resource_finding_names_the_resource() -> None:
    [finding] = scan_findings([SAMPLES / "hit_lambda_outside_aws.json"])
    assert finding["type"] == PREFIX + "ResourceCredentialExfiltration.OutsideAWS"
    assert _info(finding) == {
        "outsideAws": True,
        "decidedBy": f"not in any prefix of ip-ranges.json createDate {builtin_aws_ranges().create_date}",
        "resourceType": "Lambda",
        "resourceName": "invoice-renderer",
        "recognisedBy": "sts:AssumeRole by lambda.amazonaws.com",
    }
    assert finding["title"] == (
        "Credentials for Lambda resource role invoice-renderer-role-x1y2z3 used from external IP address."
    )


def test_trusted_list_is_what_silences_the_on_prem_gateway() -> None:
    sample = SAMPLES / "miss_instance_trusted_nat.json"
    assert scan_findings([sample], trusted_lists=[SAMPLES / "trusted.txt"]) == []
    [finding] = scan_findings([sample])
    assert finding["type"] == PREFIX + "InstanceCredentialExfiltration.OutsideAWS"


def test_an_aws_range_is_what_keeps_an_aws_address_quiet(tmp_path: Path) -> None:
    """52.42.146.205 is EC2 us-west-2: quiet with the shipped ranges, OutsideAWS without them."""
    sample = SAMPLES / "miss_instance_from_aws_address.json"
    assert scan_findings([sample]) == []
    empty = tmp_path / "ip-ranges.json"
    empty.write_text(json.dumps({"syncToken": "1", "createDate": "2000-01-01-00-00-00", "prefixes": []}))
    [finding] = scan_findings([sample], aws_ip_ranges=empty)
    assert _info(finding)["decidedBy"] == "not in any prefix of ip-ranges.json createDate 2000-01-01-00-00-00"


# ---------------------------------------------------------------- across batches


def _filler(start: datetime, n: int, tag: str) -> list[dict[str, Any]]:
    """Routine calls (an IAM user from inside AWS) that only make the files long."""
    return [
        {
            "eventVersion": "1.08",
            "eventTime": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "ec2.amazonaws.com",
            "eventName": "DescribeInstances",
            "eventID": f"{tag}-{i}",
            "eventType": "AwsApiCall",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "3.84.17.201",
            "userAgent": "aws-cli/2.15.30",
            "recipientAccountId": "111122223333",
            "userIdentity": {
                "type": "IAMUser",
                "accountId": "111122223333",
                "arn": "arn:aws:iam::111122223333:user/deploy",
                "accessKeyId": "AKIA3EXAMPLEDEPLOY01",
                "userName": "deploy",
            },
        }
        for i in range(n)
    ]


def _at(record: dict[str, Any], when: str) -> dict[str, Any]:
    return {**record, "eventTime": when}


def _multi_file(tmp_path: Path) -> list[Path]:
    """Keys learned in one file and used in later ones, each file longer than a 1000-row batch."""
    lam = _records("hit_lambda_outside_aws.json")  # AssumeRole, 2 inside calls, 2 outside
    ecs = _records("hit_ecs_inside_aws_vpce.json")  # AssumeRole, 1 call through another account's endpoint
    marker = _records("hit_lambda_marker_outside_aws.json")  # inside call with the marker, outside call
    other_account, instance_call = _records("hit_instance_inside_aws_affiliated.json")
    day = datetime(2024, 9, 10, tzinfo=UTC)
    ecs_use = {**ecs[1], "vpcEndpointAccountId": "555566667777"}  # the affiliated account's endpoint
    first = [
        _at(lam[0], "2024-09-10T10:00:00Z"),
        _at(ecs[0], "2024-09-10T10:00:05Z"),
        _at(other_account, "2024-09-10T10:00:10Z"),
        *_filler(day.replace(hour=10), 1500, "a"),
    ]
    second = [
        *_filler(day.replace(hour=11), 1500, "b"),
        _at(lam[1], "2024-09-10T11:10:00Z"),
        _at(lam[3], "2024-09-10T11:30:40Z"),
        _at(ecs_use, "2024-09-10T11:40:00Z"),
        _at(marker[0], "2024-09-10T11:50:00Z"),
        _at(instance_call, "2024-09-10T11:55:00Z"),
    ]
    third = [
        *_filler(day.replace(hour=12), 1500, "c"),
        _at(marker[1], "2024-09-10T12:40:00Z"),
        _at(lam[4], "2024-09-10T21:59:00Z"),  # 11 h 59 min after the AssumeRole: still the function's
        _at(lam[3], "2024-09-10T22:00:01Z"),  # past 12 h: the key cannot be valid any more
        *_filler(day.replace(hour=22, minute=30), 1200, "d"),
    ]
    return [_write(tmp_path / f"{i}.json", records) for i, records in enumerate((first, second, third))]


def _outcome(findings: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            f["type"],
            f["resource"]["accessKeyDetails"].get("accessKeyId"),
            f["service"]["count"],
            f["severity"],
            json.dumps(_info(f), sort_keys=True),
        )
        for f in findings
        if "CredentialExfiltration" in f["type"]
    )


def test_same_findings_whatever_the_batch_size(tmp_path: Path) -> None:
    files = _multi_file(tmp_path)
    small = _outcome(scan_findings(files, batch_rows=1000))
    assert small == _outcome(scan_findings(files, batch_rows=250_000))
    assert [(t.removeprefix(PREFIX), key, count, sev) for t, key, count, sev, _ in small] == [
        ("InstanceCredentialExfiltration.InsideAWS", "ASIA3EXAMPLEINST0001", 1, 5.0),
        ("ResourceCredentialExfiltration.InsideAWS", "ASIA3EXAMPLEECSTASK2", 1, 5.0),
        ("ResourceCredentialExfiltration.OutsideAWS", "ASIA3EXAMPLELAMBDA01", 2, 8.0),
        ("ResourceCredentialExfiltration.OutsideAWS", "ASIA3EXAMPLELAMBDA02", 1, 8.0),
    ]


def test_state_is_bounded_by_event_time(tmp_path: Path) -> None:
    """After the last file only the keys a later record could still use are kept (and the accounts)."""
    report = Report()
    store = Store.for_data_dir(tmp_path / "store")
    try:
        engine = Engine(store, intel=Intel.with_builtin_feeds(), batch_rows=1000)
        for planned in plan([str(p) for p in _multi_file(tmp_path)], report):
            for frame in read(planned, report, batch_rows=1000):
                engine.feed(planned.source, frame)
        engine.finish()
    finally:
        store.close()
    state = engine.ctx.state[DETECTOR_ID]
    newest = datetime(2024, 9, 10, 22, 30, tzinfo=UTC) + timedelta(seconds=1199)
    keys = state.filter(pl.col("kind") == "key").sort("id")
    # Learned at 10:00 (Lambda, ECS AssumeRole) and 11:50 (the marker); the newest event is 22:49:59.
    assert keys["id"].to_list() == ["ASIA3EXAMPLELAMBDA02"]
    assert all(since + MAX_SESSION >= newest - LATENESS for since in keys["since"])
    assert sorted(state.filter(pl.col("kind") == "account")["id"]) == ["111122223333", "555566667777"]


def _two_scans(url: str, first: Path, second: Path) -> list[tuple[Any, ...]]:
    with Store(url) as store:
        assert _outcome(scan_findings([first], store=store)) == []
        return _outcome(scan_findings([second], store=store))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_what_one_scan_learned_holds_in_the_next(tmp_path: Path, backend: str) -> None:
    """The Lambda key learned from an AssumeRole in one scan is recognised when the next scan,
    into the same store (SQLite or PostgreSQL), shows it used from outside AWS."""
    lam = _records("hit_lambda_outside_aws.json")  # AssumeRole, 2 inside calls, 2 outside
    first = _write(tmp_path / "assume.json", [lam[0]])
    second = _write(tmp_path / "use.json", lam[3:])  # only the outside calls: no marker to learn from
    if backend == "sqlite":
        found = _two_scans(sqlite_url(tmp_path), first, second)
    else:
        with postgres_url() as url:
            found = _two_scans(url, first, second)
    assert [(t.removeprefix(PREFIX), key) for t, key, *_ in found] == [
        ("ResourceCredentialExfiltration.OutsideAWS", "ASIA3EXAMPLELAMBDA01")
    ]
    # A store that never saw the AssumeRole does not know whose key it is.
    assert _outcome(scan_findings([second])) == []
