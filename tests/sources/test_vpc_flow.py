"""VPC Flow Logs in every format version and delivery: text with a header (any order), header-less
default format, Parquet, CloudWatch Logs subscription envelopes."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal

from keibi.sources import VPC_FLOW

DATASETS = Path(__file__).resolve().parents[3] / "shared/datasets"
DOC_EXAMPLES = json.loads((DATASETS / "aws-docs-examples/vpc_flow_log_record_examples.json").read_text())[
    "examples"
]


def _t(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def test_default_format_with_header(files: Path, read_all: Any) -> None:
    path = next((files / "AWSLogs").rglob("*_vpcflowlogs_*.log"))
    frames, report = read_all([path])
    assert report.ok and report.records["vpc_flow"] == 5
    n = 5
    expected = pl.DataFrame(
        {
            "event_time": [_t(1722585960)] * 2 + [_t(1722585965)] + [_t(1722586020)] * 2,
            "account_id": ["111122223333"] * n,
            "region": ["eu-west-1"] * n,  # from the AWSLogs/ path
            "_file": [str(path)] * n,
            "_line": [2, 3, 4, 5, 6],
            "version": [2] * n,
            "interface_id": ["eni-0a1b2c3d4e5f60718"] * 4 + ["eni-0f0e0d0c0b0a09080"],
            "srcaddr": ["203.0.113.50", "10.0.1.15", "198.51.100.9", None, None],
            "dstaddr": ["10.0.1.15", "203.0.113.50", "10.0.1.15", None, None],
            "srcport": [51234, 22, 40000, None, None],
            "dstport": [22, 51234, 3389, None, None],
            "protocol": [6, 6, 6, None, None],
            "packets": [12, 10, 1, None, None],
            "bytes": [2048, 4096, 40, None, None],
            "start": [_t(1722585960)] * 2 + [_t(1722585965)] + [_t(1722586020)] * 2,
            "end": [_t(1722586020)] * 3 + [_t(1722586080)] * 2,
            "action": ["ACCEPT", "ACCEPT", "REJECT", None, None],
            "log_status": ["OK", "OK", "OK", "NODATA", "SKIPDATA"],
        },
        schema={k: VPC_FLOW[k] for k in list(VPC_FLOW)[:18]},
    )
    got = frames["vpc_flow"]
    assert got.schema == VPC_FLOW
    assert_frame_equal(got.select(expected.columns), expected)
    later = list(VPC_FLOW)[18:]  # fields of versions 3-8, absent from this format
    assert got.select(later).null_count().row(0) == (n,) * len(later)


def test_custom_v5_order_with_direction(files: Path, read_all: Any) -> None:
    frames, report = read_all([files / "flow_v5_custom.log"])
    got = frames["vpc_flow"]
    assert report.ok
    assert got.select(
        "_line",
        "flow_direction",
        "srcaddr",
        "dstport",
        "bytes",
        "packets",
        "version",
        "region",
        "az_id",
        "pkt_src_aws_service",
        "pkt_dst_aws_service",
        "traffic_path",
        "tcp_flags",
        "instance_id",
        "account_id",
    ).rows() == [
        (
            2,
            "egress",
            "10.0.1.15",
            443,
            81234,
            60,
            5,
            "eu-west-1",
            "euw1-az1",
            None,
            "S3",
            8,
            19,
            "i-0abc1234def567890",
            "111122223333",
        ),
        (
            3,
            "ingress",
            "52.94.0.10",
            44321,
            1200345,
            900,
            5,
            "eu-west-1",
            "euw1-az1",
            "S3",
            None,
            None,
            3,
            "i-0abc1234def567890",
            "111122223333",
        ),
    ]
    assert got["event_time"].to_list() == [_t(1722590000), _t(1722590001)]


@pytest.mark.parametrize(
    "example", DOC_EXAMPLES, ids=[f"{i}-{e['section']}" for i, e in enumerate(DOC_EXAMPLES)]
)
def test_official_examples(example: dict[str, Any], tmp_path: Path, read_all: Any) -> None:
    """Each record of the VPC user guide, in its own format string as the header."""
    path = tmp_path / "flow.log"
    path.write_text(example["format"] + "\n" + "\n".join(example["records"]) + "\n")
    frames, report = read_all([path])
    assert report.ok, report.errors
    got = frames["vpc_flow"]
    fields = example["format"].split()
    assert got.height == len(example["records"])
    for row, record in zip(got.iter_rows(named=True), example["records"], strict=True):
        for field, value in zip(fields, record.split(), strict=True):  # one example has a double space
            column = field.replace("-", "_")
            got_value = row[column]
            if value == "-":
                assert got_value is None, field
            elif field in ("start", "end"):
                assert got_value == _t(int(value))
            elif VPC_FLOW[column].is_integer():
                assert got_value == int(value), field
            else:
                assert got_value == value, field
        assert row["event_time"] == row["start"]


def test_headerless_default_format(read_all: Any) -> None:
    path = DATASETS / "panther-analysis/test-scenarios/compromised-root-creds/attacker_vpc.vpc_flow.log"
    frames, report = read_all([path])
    got = frames["vpc_flow"]
    assert report.ok and got.height == 6
    assert got["_line"].to_list() == [1, 2, 3, 4, 5, 6]
    assert got["bytes"].to_list()[-2:] == [1048576, 1048576]
    assert got["srcaddr"][0] == "92.55.146.245" and got["account_id"][0] == "493859302102"


def test_cloudwatch_subscription_envelope(tmp_path: Path, read_all: Any) -> None:
    source = DATASETS / "otel-collector-contrib-vpcflow-fixtures/valid_vpc_flow_cloudwatch_subscription.json"
    frames, report = read_all([source])
    got = frames["vpc_flow"]
    assert report.ok
    assert got.select("_line", "dstport", "action").rows() == [(1, 22, "ACCEPT"), (2, 3389, "REJECT")]
    # as Firehose delivers them: gzipped, envelopes concatenated without separators
    firehose = tmp_path / "firehose.gz"
    firehose.write_bytes(gzip.compress(source.read_bytes() * 2))
    assert read_all([firehose])[0]["vpc_flow"]["_line"].to_list() == [1, 2, 3, 4]


@pytest.mark.parametrize("separator", ["-", "_"])
def test_parquet_delivery(separator: str, tmp_path: Path, read_all: Any) -> None:
    names = [
        "version",
        "account-id",
        "interface-id",
        "srcaddr",
        "dstaddr",
        "srcport",
        "dstport",
        "protocol",
        "packets",
        "bytes",
        "start",
        "end",
        "action",
        "log-status",
        "flow-direction",
    ]
    table = pa.table(
        {
            n.replace("-", separator): col
            for n, col in zip(
                names,
                [
                    pa.array([5, 5, 5], pa.int32()),
                    ["111122223333"] * 3,
                    ["eni-0a1b2c3d4e5f60718"] * 3,
                    ["10.0.1.15", "203.0.113.5", None],
                    ["203.0.113.5", "10.0.1.15", None],
                    pa.array([443, 51000, None], pa.int32()),
                    pa.array([51000, 443, None], pa.int32()),
                    pa.array([6, 6, None], pa.int32()),
                    pa.array([3, 4, None], pa.int64()),
                    pa.array([180, 5000, None], pa.int64()),
                    pa.array([1722586000, 1722586001, 1722586002], pa.int64()),
                    pa.array([1722586060] * 3, pa.int64()),
                    ["ACCEPT", "ACCEPT", None],
                    ["OK", "OK", "NODATA"],
                    ["egress", "ingress", None],
                ],
                strict=True,
            )
        }
    )
    folder = tmp_path / "AWSLogs/111122223333/vpcflowlogs/ca-central-1/2024/08/02"
    folder.mkdir(parents=True)
    path = folder / "111122223333_vpcflowlogs_ca-central-1_fl-1_20240802T0810Z_abc.log.parquet"
    pq.write_table(table, path, row_group_size=2)
    frames, report = read_all([path], batch_rows=2)
    got = frames["vpc_flow"]
    assert report.ok
    assert got.select("_line", "srcport", "bytes", "flow_direction", "log_status", "region").rows() == [
        (1, 443, 180, "egress", "OK", "ca-central-1"),
        (2, 51000, 5000, "ingress", "OK", "ca-central-1"),
        (3, None, None, None, "NODATA", "ca-central-1"),
    ]
    assert got["start"].to_list() == [_t(1722586000), _t(1722586001), _t(1722586002)]


def test_gzipped_and_batched(files: Path, tmp_path: Path, read_all: Any) -> None:
    lines = [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
    ]
    lines += [
        f"2 111122223333 eni-1 10.0.0.{i % 250} 10.0.1.1 {1024 + i} 443 6 1 40 {1722586000 + i} {1722586060 + i} ACCEPT OK"
        for i in range(5000)
    ]
    path = tmp_path / "flows.log.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    frames, report = read_all([path], batch_rows=1000)
    got = frames["vpc_flow"]
    assert report.ok and got.height == 5000
    assert got["_line"].to_list() == list(range(2, 5002))
    assert got["srcport"].to_list() == list(range(1024, 6024))


def test_clean_and_checked_paths_agree(files: Path, tmp_path: Path, read_all: Any) -> None:
    """A clean file takes the typed fast path; one bad line sends the block down the checked
    path. The good records must come out the same either way, and the bad line is reported."""
    source = next((files / "AWSLogs").rglob("*_vpcflowlogs_*.log")).read_text()
    header, *lines = source.splitlines()
    clean = tmp_path / "clean.log"
    clean.write_text("\n".join([header, *lines, *lines]) + "\n")
    dirty = tmp_path / "dirty.log"
    dirty.write_text("\n".join([header, *lines, lines[0].replace(" 6 ", " tcp ", 1), *lines]) + "\n")
    fast, fast_report = read_all([clean])
    checked, checked_report = read_all([dirty])
    assert fast_report.ok and fast["vpc_flow"].height == 2 * len(lines)
    bad_line = len(lines) + 2
    assert [(e.line, e.reason) for e in checked_report.errors] == [(bad_line, "invalid protocol 'tcp'")]
    kept = checked["vpc_flow"]
    assert bad_line not in kept["_line"].to_list()
    # the same records, lines after the bad one shifted by one
    shifted = kept.with_columns(
        pl.when(pl.col("_line") > bad_line)
        .then(pl.col("_line") - 1)
        .otherwise(pl.col("_line"))
        .alias("_line")
    )
    assert_frame_equal(shifted.drop("_file"), fast["vpc_flow"].drop("_file"), check_dtypes=True)


@pytest.mark.parametrize(
    "body",
    [
        "1 ACCEPT 10.0.0.1 100\n- - - 200\n",  # a "-" in the last column: counted, still clean
        "1 ACCEPT 10.0.0.1 100\n\n1 REJECT - 200\n",  # a blank line
        "1 ACCEPT 10.0.0.1 100\n1 REJECT 200\n",  # a short line
        "1 ACCEPT  10.0.0.1 100\n",  # a run of spaces
    ],
)
def test_fast_path_falls_back_on_irregular_lines(body: str, tmp_path: Path, read_all: Any) -> None:
    path = tmp_path / "custom.log"
    path.write_text("account-id action srcaddr start\n" + body)
    frames, report = read_all([path])
    got = frames["vpc_flow"]
    records = [line for line in body.splitlines() if line.strip()]
    short = [line for line in records if len(line.split()) != 4]
    assert [e.reason for e in report.errors] == ["expected 4 fields, got 3"] * len(short)
    assert got.height == len(records) - len(short)
    assert got["srcaddr"][0] == "10.0.0.1" and got["start"][0] == _t(100)
