"""CloudTrail in every layout AWS and its neighbours deliver, flattened into ``CLOUDTRAIL``."""

from __future__ import annotations

import gc
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keibi.sources import CLOUDTRAIL

STRATUS = sorted(
    (Path(__file__).resolve().parents[3] / "shared/datasets/stratus-red-team/detonation-logs").glob("*.json")
)


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_s3_delivery_file(files: Path, read_all: Any) -> None:
    path = next((files / "AWSLogs").rglob("*_CloudTrail_*.json.gz"))
    frames, report = read_all([path])
    assert report.ok and report.files["cloudtrail"] == 1 and report.records["cloudtrail"] == 3
    assert report.bytes["cloudtrail"] == path.stat().st_size
    got = frames["cloudtrail"]
    assert got.schema == CLOUDTRAIL
    expected = pl.DataFrame(
        {
            "event_time": [_t("2024-08-02T08:03:10"), _t("2024-08-02T08:05:41"), _t("2024-08-02T08:07:02")],
            "account_id": ["111122223333"] * 3,
            "region": ["eu-west-1"] * 3,
            "_file": [str(path)] * 3,
            "_line": [2, 1, 3],  # the position in the Records array
            "event_name": ["StopLogging", "DescribeInstances", "GetObject"],
            "event_category": ["Management", "Management", "Data"],
            "read_only": [False, True, True],
            "management_event": [True, True, False],
            "recipient_account_id": [None, "111122223333", "111122223333"],
            "vpc_endpoint_id": [None, None, "vpce-0a1b2c3d4e5f60718"],
            "user_type": ["IAMUser", "AssumedRole", "AWSService"],
            "user_name": ["alice", None, None],
            "invoked_by": [None, None, "athena.amazonaws.com"],
            "session_issuer_type": [None, "Role", None],
            "session_issuer_arn": [None, "arn:aws:iam::111122223333:role/web-role", None],
            "session_issuer_user_name": [None, "web-role", None],
            "session_mfa": [True, False, None],
            "session_creation_date": [_t("2024-08-02T08:00:00"), _t("2024-08-02T07:55:12"), None],
            "ec2_role_delivery": [None, "2.0", None],
            "request_parameters": [
                '{"name":"arn:aws:cloudtrail:eu-west-1:111122223333:trail/main"}',
                '{"instancesSet":{},"filterSet":{}}',
                '{"bucketName":"reports-111122223333","Host":"reports-111122223333.s3.eu-west-1.amazonaws.com","key":"2024/q2.csv"}',
            ],
            "response_elements": [None, None, None],
            "additional_event_data": [None, None, '{"SignatureVersion":"SigV4","bytesTransferredOut":5120}'],
        },
        schema={
            k: CLOUDTRAIL[k]
            for k in CLOUDTRAIL
            if k
            in {
                "event_time",
                "account_id",
                "region",
                "_file",
                "_line",
                "event_name",
                "event_category",
                "read_only",
                "management_event",
                "recipient_account_id",
                "vpc_endpoint_id",
                "user_type",
                "user_name",
                "invoked_by",
                "session_issuer_type",
                "session_issuer_arn",
                "session_issuer_user_name",
                "session_mfa",
                "session_creation_date",
                "ec2_role_delivery",
                "request_parameters",
                "response_elements",
                "additional_event_data",
            }
        },
    )
    assert_frame_equal(got.sort("event_time").select(expected.columns), expected)
    resources = json.loads(got.filter(pl.col("event_name") == "GetObject")["resources"].item())
    assert [r["type"] for r in resources] == ["AWS::S3::Object", "AWS::S3::Bucket"]
    assert got["user_account_id"].to_list() == ["111122223333", "111122223333", None]


def test_account_and_region_fall_back_to_the_path(tmp_path: Path, read_all: Any) -> None:
    folder = tmp_path / "AWSLogs/o-a1b2c3d4e5/999988887777/CloudTrail/ap-south-1/2024/08/02"
    folder.mkdir(parents=True)
    event = {
        "eventVersion": "1.08",
        "eventTime": "2024-08-02T01:02:03Z",
        "eventSource": "sts.amazonaws.com",
        "eventName": "GetCallerIdentity",
        "userIdentity": {"type": "Unknown"},
    }
    (folder / "x.json").write_bytes(orjson.dumps({"Records": [event]}))
    (tmp_path / "elsewhere.jsonl").write_bytes(orjson.dumps(event) + b"\n")
    frames, report = read_all([tmp_path])
    got = frames["cloudtrail"].sort("_file")
    assert report.ok
    assert got.select("account_id", "region").rows() == [("999988887777", "ap-south-1"), ("", "us-east-1")]


def test_eventbridge_events(files: Path, read_all: Any) -> None:
    frames, report = read_all([files / "eventbridge_cloudtrail.jsonl"])
    got = frames["cloudtrail"]
    assert report.ok
    assert got.select(
        "_line", "event_name", "account_id", "region", "user_type", "request_parameters"
    ).rows() == [
        (
            1,
            "DeleteBucketPublicAccessBlock",
            "444455556666",
            "us-west-2",
            "Root",
            '{"publicAccessBlock":"","bucketName":"open-bucket","Host":"s3.amazonaws.com"}',
        ),
        (2, "PutBucketAcl", "444455556666", "us-west-2", "Root", '"acl"'),  # a string stays JSON text
    ]


def test_eventbridge_array_gzipped(tmp_path: Path, files: Path, read_all: Any) -> None:
    events = [json.loads(line) for line in (files / "eventbridge_cloudtrail.jsonl").read_text().splitlines()]
    path = tmp_path / "events.json.gz"
    path.write_bytes(gzip.compress(json.dumps(events, indent=2).encode()))
    frames, report = read_all([path])
    assert report.ok and frames["cloudtrail"]["_line"].to_list() == [1, 2]


@pytest.mark.parametrize("path", STRATUS, ids=[p.stem for p in STRATUS])
def test_every_stratus_detonation(path: Path, read_all: Any) -> None:
    events = json.loads(path.read_text())
    frames, report = read_all([path])
    got = frames["cloudtrail"]
    assert report.ok, report.errors
    assert got["event_id"].to_list() == [e["eventID"] for e in events]
    assert got["_line"].to_list() == list(range(1, len(events) + 1))
    assert got["event_time"].null_count() == 0
    assert got["account_id"].to_list() == [e["recipientAccountId"] for e in events]
    assert got["region"].to_list() == [e["awsRegion"] for e in events]


def test_stratus_instance_credentials_flattened(read_all: Any) -> None:
    path = next(p for p in STRATUS if "steal-instance-credentials" in p.name)
    got = read_all([path])[0]["cloudtrail"]
    stolen = got.filter(pl.col("ec2_role_delivery").is_not_null())
    assert stolen.height > 0
    assert set(stolen["ec2_role_delivery"]) == {"1.0"}
    assert stolen["session_issuer_type"].unique().to_list() == ["Role"]


def test_logstash_lines_equal_the_records_copy(read_all: Any) -> None:
    root = Path(__file__).resolve().parents[3] / "shared/datasets/otrf-security-datasets"
    lines = read_all([root / "ec2_proxy_s3_exfiltration_2020-09-14011940.jsonl"])[0]["cloudtrail"]
    records = read_all([root / "ec2_proxy_s3_exfiltration.cloudtrail_records.json"])[0]["cloudtrail"]
    assert lines.height == records.height == 103
    assert lines["_line"].to_list() == list(range(1, 104))
    key = ["event_id"]
    cols = [
        "event_id",
        "event_time",
        "event_name",
        "event_category",
        "user_arn",
        "session_mfa",
        "request_parameters",
    ]
    assert_frame_equal(lines.select(cols).sort(key), records.select(cols).sort(key))
    assert set(lines["event_category"].drop_nulls()) <= {"Management", "Data"}


def test_batches_and_gc(tmp_path: Path, read_all: Any) -> None:
    events = [
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "eventTime": f"2024-08-02T08:{i // 60:02d}:{i % 60:02d}Z",
            "eventID": str(i),
            "readOnly": "true",
            "errorCode": 403,
            "managementEvent": False,
        }
        for i in range(2500)
    ]
    path = tmp_path / "big.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps({"Records": events})))
    assert gc.isenabled()
    frames, report = read_all([path], batch_rows=1000)
    assert gc.isenabled()
    got = frames["cloudtrail"]
    assert report.ok and got.height == 2500
    assert got["event_id"].to_list() == [str(i) for i in range(2500)]
    # fields of the wrong JSON type are converted, not fatal
    assert got["read_only"].unique().to_list() == [True]
    assert got["error_code"].unique().to_list() == ["403"]
