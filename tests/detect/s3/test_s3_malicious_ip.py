"""{Discovery,Exfiltration,Impact}:S3/MaliciousIPCaller on CloudTrail S3 data-event samples, bad
request parameters, and one sample end to end (bucket resource, threat intelligence details)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from keibi.detect import ROW, DetectContext
from keibi.detect.s3.malicious_ip import malicious_ip
from keibi.sources.schema import CLOUDTRAIL
from tests.detect._frames import check, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "s3.malicious_ip"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_feed_and_its_category() -> None:
    found = check(DETECTOR, SAMPLES / "hit_anonymous.json")
    assert {json.loads(i)["threatListName"] for i in found["info"]} == {"feed.Malicious"}
    assert {tuple(json.loads(i)["threatNames"]) for i in found["info"]} == {("Malicious",)}


def _enriched(rows: list[tuple[str | None, str | None]]) -> pl.DataFrame:
    """Parsed S3 data events from a listed address: (event name, request parameters JSON text)."""
    base = {
        "event_time": datetime(2024, 3, 5, 13, 0, tzinfo=UTC),
        "account_id": "123456789012",
        "region": "us-east-1",
        "event_source": "s3.amazonaws.com",
        "event_category": "Data",
        "user_type": "IAMUser",
        "principal_id": "AIDAEXAMPLE",
        "source_ip": "198.51.100.7",
    }
    records = [{**base, "event_name": name, "request_parameters": params} for name, params in rows]
    return (
        pl.DataFrame(records, schema=CLOUDTRAIL)
        .with_columns(
            pl.col("source_ip").alias("remote_ip"),
            pl.lit(False).alias("remote_trusted"),
            pl.lit(None, pl.String).alias("remote_custom_list"),
            pl.lit("feed").alias("remote_feed"),
            pl.lit("Malicious").alias("remote_feed_category"),
        )
        .with_row_index(ROW)
    )


def test_bad_request_parameters_do_not_crash() -> None:
    rows: list[tuple[str | None, str | None]] = [
        ("GetObject", '{"bucketName": 42}'),
        ("GetObject", '{"bucketName": {"nested": true}}'),
        ("GetObject", "not json"),
        ("GetObject", None),
        ("GetObject", "[]"),
        (None, '{"bucketName": "b"}'),
    ]
    found = malicious_ip(_enriched(rows), DetectContext())
    assert found["type"].to_list() == ["Exfiltration:S3/MaliciousIPCaller"] * found.height
    # Every GetObject is evidence of some hit; the call with no name has no class.
    assert sorted(r for rs in found["rows"] for r in rs) == [0, 1, 2, 3, 4]


def test_end_to_end_finding(tmp_path: Path) -> None:
    found = scan_findings(
        [SAMPLES / "hit_split_by_tactic.json"], feeds=[("Malicious", SAMPLES / "feed.Malicious.txt")]
    )
    by_type = {f["type"]: f for f in found if f["type"].endswith("S3/MaliciousIPCaller")}
    assert sorted(by_type) == [
        "Discovery:S3/MaliciousIPCaller",
        "Exfiltration:S3/MaliciousIPCaller",
        "Impact:S3/MaliciousIPCaller",
    ]
    impact = by_type["Impact:S3/MaliciousIPCaller"]
    assert impact["severity"] == 8.0
    assert impact["resource"]["resourceType"] == "S3Bucket"
    assert impact["resource"]["s3BucketDetails"][0]["name"] == "acme-payroll"
    assert impact["service"]["count"] == 2
    assert impact["service"]["evidence"] == {
        "threatIntelligenceDetails": [{"threatListName": "feed.Malicious", "threatNames": ["Malicious"]}]
    }
