"""Bad input never costs good data: each broken file or record is reported with its path and
line, counted, and skipped, and the rest of the run goes on."""

from __future__ import annotations

import gzip
import random
import shutil
from pathlib import Path
from typing import Any

import orjson

from keibi.sources import Report, plan


def _errors(report: Report) -> list[tuple[str, int | None, str]]:
    return [(Path(e.path).name, e.line, e.reason) for e in report.errors]


def test_malformed_json_lines(files: Path, read_all: Any) -> None:
    frames, report = read_all([files / "bad/malformed.jsonl"])
    got = frames["cloudtrail"]
    assert got["_line"].to_list() == [1, 6]  # the good records, before and after the bad ones
    assert got["event_id"].to_list() == [
        "e0a1b2c3-0000-4000-8000-000000000001",
        "e0a1b2c3-0000-4000-8000-000000000009",
    ]
    errors = _errors(report)
    assert errors[0][:2] == ("malformed.jsonl", 2) and errors[0][2].startswith("invalid JSON")
    assert errors[1:] == [
        ("malformed.jsonl", 5, "record 1 is not a JSON object"),
        ("malformed.jsonl", 5, "record 2 is not a JSON object"),
        ("malformed.jsonl", 4, "invalid eventTime 'yesterday'"),
    ]
    assert (report.skipped_records, report.skipped_files) == (4, 0)


def _lines_gz(n: int) -> bytes:
    rng = random.Random(7)  # incompressible ids, so the gzip is long enough to cut in the middle
    events = [
        {
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "eventTime": "2024-08-02T08:00:00Z",
            "eventID": f"{rng.getrandbits(128):032x}",
        }
        for _ in range(n)
    ]
    return gzip.compress(b"\n".join(orjson.dumps(e) for e in events) + b"\n")


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path, read_all: Any) -> None:
    data = _lines_gz(4000)
    (tmp_path / "cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    frames, report = read_all([tmp_path])
    kept = frames["cloudtrail"].height
    assert 1000 < kept < 4000
    assert frames["cloudtrail"]["_line"].to_list() == list(range(1, kept + 1))
    assert _errors(report) == [("cut.jsonl.gz", kept + 1, "truncated gzip")]
    assert (report.skipped_files, report.files["cloudtrail"], report.records["cloudtrail"]) == (1, 1, kept)


def test_truncated_gzip_of_a_records_document(tmp_path: Path, files: Path, read_all: Any) -> None:
    events = [
        {"eventSource": "s3.amazonaws.com", "eventTime": "2024-08-02T08:00:00Z", "eventID": f"{i:08x}" * 4}
        for i in range(3000)
    ]
    data = gzip.compress(orjson.dumps({"Records": events}, option=orjson.OPT_INDENT_2))
    (tmp_path / "records.json.gz").write_bytes(data[: len(data) * 2 // 3])
    frames, report = read_all([tmp_path])
    kept = frames["cloudtrail"]
    assert 0 < kept.height < 3000
    assert kept["event_id"].to_list() == [e["eventID"] for e in events[: kept.height]]
    assert [(n, r) for n, _, r in _errors(report)] == [("records.json.gz", "truncated gzip")]
    assert report.errors[0].line is not None and report.errors[0].line > 1


def test_truncated_flow_log(tmp_path: Path, read_all: Any) -> None:
    header = "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
    rng = random.Random(3)
    body = "".join(
        f"2 111122223333 eni-1 10.0.{rng.randrange(256)}.{rng.randrange(256)} 10.0.1.1 {rng.randrange(65536)} "
        f"443 6 1 {rng.randrange(99999)} 1722586000 1722586060 ACCEPT OK\n"
        for _ in range(5000)
    )
    data = gzip.compress((header + body).encode())
    (tmp_path / "flow.log.gz").write_bytes(data[: len(data) // 2])
    frames, report = read_all([tmp_path])
    kept = frames["vpc_flow"].height
    assert 0 < kept < 5000
    assert _errors(report) == [("flow.log.gz", kept + 2, "truncated gzip")]


def test_flow_rows_that_do_not_match_the_header(files: Path, read_all: Any) -> None:
    frames, report = read_all([files / "bad/flow_mismatch.log"])
    assert frames["vpc_flow"]["_line"].to_list() == [2, 6]
    assert _errors(report) == [
        ("flow_mismatch.log", 3, "expected 14 fields, got 13"),
        ("flow_mismatch.log", 4, "expected 14 fields, got 15"),
        ("flow_mismatch.log", 5, "invalid srcport 'ssh'"),
    ]
    assert report.skipped_records == 3


def test_files_that_are_not_logs(tmp_path: Path, files: Path) -> None:
    shutil.copy(files / "bad/unknown.json", tmp_path)
    shutil.copy(files / "bad/empty.log", tmp_path)
    (tmp_path / "garbage.bin").write_bytes(random.Random(5).randbytes(4096))
    (tmp_path / "garbage.json.gz").write_bytes(b"\x1f\x8b\x08\x00" + random.Random(6).randbytes(200))
    (tmp_path / "header-only.gz").write_bytes(gzip.compress(b'{"Records": []}')[:10])
    report = Report()
    assert plan([str(tmp_path)], report) == []
    errors = sorted(_errors(report))
    assert [e for e in errors if e[0] != "garbage.json.gz"] == [
        ("empty.log", None, "empty file"),
        ("garbage.bin", None, "unknown log format (binary data)"),
        ("header-only.gz", 1, "truncated gzip"),
        (
            "unknown.json",
            None,
            "unknown log format (JSON, but not CloudTrail, Route 53 Resolver or VPC flow)",
        ),
    ]
    (corrupt,) = [e for e in errors if e[0] == "garbage.json.gz"]
    assert corrupt[1] == 1 and corrupt[2].startswith("corrupt gzip")
    assert (report.skipped_files, report.error_count) == (5, 5)


def test_the_rest_of_the_run_goes_on(tmp_path: Path, files: Path, read_all: Any) -> None:
    """Good files next to every kind of bad one are read whole, in event-time order."""
    shutil.copytree(files, tmp_path / "all")
    (tmp_path / "all/bad/garbage.bin").write_bytes(random.Random(5).randbytes(512))
    data = _lines_gz(2000)
    (tmp_path / "all/bad/cut.jsonl.gz").write_bytes(data[: len(data) // 2])
    report = Report()
    planned = plan([str(tmp_path / "all")], report)
    times = [p.first_time for p in planned if p.first_time is not None]
    assert times == sorted(times)
    assert not any("Digest" in p.file.uri for p in planned)
    frames, report = read_all([tmp_path / "all"], report=Report())
    assert frames["dns"].height == 2
    assert frames["vpc_flow"].filter(pl_file_is("vpcflowlogs")).height == 5
    ct = frames["cloudtrail"]
    assert ct.filter(pl_file_is("_CloudTrail_")).height == 3
    assert ct.filter(pl_file_is("eventbridge")).height == 2
    reasons = {(Path(e.path).name, e.reason.split(" (")[0]) for e in report.errors}
    assert {
        ("empty.log", "empty file"),
        ("garbage.bin", "unknown log format"),
        ("cut.jsonl.gz", "truncated gzip"),
        ("unknown.json", "unknown log format"),
    } <= reasons
    assert not report.ok


def pl_file_is(part: str) -> Any:
    import polars as pl

    return pl.col("_file").str.contains(part, literal=True)
