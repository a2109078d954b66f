"""Route 53 Resolver query logs into ``DNS``."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keibi.sources import DNS, Report, dns
from keibi.sources._json import json_lines

DOCS = Path(__file__).resolve().parents[3] / "shared/datasets/aws-docs-examples"


def test_resolver_log_as_delivered(files: Path, read_all: Any) -> None:
    path = next((files / "AWSLogs").rglob("*_vpcdnsquerylogs_*.log"))
    frames, report = read_all([path])
    assert report.ok and report.records["dns"] == 2
    expected = pl.DataFrame(
        {
            "event_time": [
                datetime(2024, 8, 2, 8, 6, 1, tzinfo=UTC),
                datetime(2024, 8, 2, 8, 6, 9, tzinfo=UTC),
            ],
            "account_id": ["111122223333"] * 2,
            "region": ["eu-west-1"] * 2,
            "_file": [str(path)] * 2,
            "_line": [1, 2],
            "version": ["1.100000"] * 2,
            "vpc_id": ["vpc-0a1b2c3d"] * 2,
            "query_name": ["pool.minexmr.com.", "blocked.example.net."],
            "query_type": ["A", "AAAA"],
            "query_class": ["IN", "IN"],
            "rcode": ["NOERROR", "NXDOMAIN"],
            "answers": [[{"Rdata": "198.51.100.77", "Type": "A", "Class": "IN"}], []],
            "srcaddr": ["10.0.1.15", "10.0.9.4"],
            "srcport": [41002, 53124],
            "transport": ["UDP", "TCP"],
            "instance_id": ["i-0abc1234def567890", None],
            "resolver_endpoint_id": [None, "rslvr-in-0123456789abcdef0"],
            "firewall_rule_action": [None, "BLOCK"],
            "firewall_rule_group_id": [None, "rslvr-frg-0123456789abcdef"],
            "firewall_domain_list_id": [None, "rslvr-fdl-0123456789abcdef"],
        },
        schema=DNS,
    )
    assert_frame_equal(frames["dns"], expected)


def test_docs_example_pretty_printed(read_all: Any) -> None:
    frames, report = read_all([DOCS / "route53_resolver_query_log_example.json"])
    got = frames["dns"]
    assert report.ok
    assert got.select("query_name", "srcport", "instance_id", "firewall_rule_action", "_line").rows() == [
        ("15.3.4.32.in-addr.arpa.", 56067, "i-0d15cd0d3example", "BLOCK", 1)
    ]


def _query(i: int, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "version": "1.100000",
        "account_id": "111122223333",
        "region": "eu-west-1",
        "vpc_id": "vpc-0a1b2c3d",
        "query_timestamp": f"2024-08-02T08:{i // 60 % 60:02d}:{i % 60:02d}Z",
        "query_name": f"host{i}.example.com.",
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [{"Rdata": f"198.51.100.{i % 250}", "Type": "A", "Class": "IN"}],
        "srcaddr": "10.0.1.15",
        "srcport": str(40000 + i % 20000),
        "transport": "UDP",
        "srcids": {"instance": "i-0abc1234def567890"},
    }
    return record | changes


def _line_by_line(path: Path) -> tuple[pl.DataFrame, Report]:
    """The reference: every line parsed on its own with orjson (``dns.row``)."""
    report = Report()
    batches = json_lines([path.read_bytes()], str(path), report, 250_000, dns.row)
    return pl.concat(list(dns.frames(batches, str(path), report))), report


def _problems(report: Report) -> list[tuple[int | None, str]]:
    return [(e.line, e.reason[:20]) for e in report.errors]


@pytest.mark.parametrize("batch_rows", [250_000, 700])
def test_blocks_read_by_arrow_give_the_line_by_line_frame(
    tmp_path: Path, read_all: Any, monkeypatch: pytest.MonkeyPatch, batch_rows: int
) -> None:
    monkeypatch.setattr(dns, "BLOCK_BYTES", 64 << 10)  # a block per chunk read (1 MiB)
    by_arrow = []
    arrow_table = dns._arrow_table

    def counted(block: bytes) -> Any:
        table = arrow_table(block)
        by_arrow.append(table is not None)
        return table

    monkeypatch.setattr(dns, "_arrow_table", counted)
    path = tmp_path / "queries.log"
    path.write_bytes(b"".join(orjson.dumps(_query(i)) + b"\n" for i in range(12_000)))
    frames, report = read_all([path], batch_rows=batch_rows)
    expected, _ = _line_by_line(path)
    assert len(by_arrow) >= 4 and all(by_arrow)
    assert report.ok and frames["dns"]["_line"].to_list() == list(range(1, 12_001))
    assert_frame_equal(frames["dns"], expected)


def test_a_bad_line_costs_only_itself_and_keeps_its_number(
    tmp_path: Path, read_all: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines Arrow refuses (malformed, a number where text belongs, one answer as an object, a
    blank line, a bad time) send their block line by line: the same frame and the same errors."""
    monkeypatch.setattr(dns, "BLOCK_BYTES", 64 << 10)
    lines = [orjson.dumps(_query(i)) for i in range(2000)]
    lines[450] = b'{"query_timestamp": "2024-08-02T08:00:00Z", "query_name": '  # malformed
    lines[900] = orjson.dumps(_query(900, srcport=5353))  # a number
    lines[1300] = orjson.dumps(_query(1300, answers={"Rdata": "192.0.2.1", "Type": "A", "Class": "IN"}))
    lines[1600] = b""
    lines[1750] = orjson.dumps(_query(1750, query_timestamp="yesterday"))
    path = tmp_path / "queries.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    frames, report = read_all([path])
    expected, expected_report = _line_by_line(path)
    got = frames["dns"]
    assert_frame_equal(got, expected)
    assert got.height == 1997 and 451 not in got["_line"] and 1751 not in got["_line"]
    assert got.filter(pl.col("_line") == 901)["srcport"].to_list() == [5353]
    assert got.filter(pl.col("_line") == 1301)["answers"].to_list() == [
        [{"Rdata": "192.0.2.1", "Type": "A", "Class": "IN"}]
    ]
    assert _problems(report) == _problems(expected_report)
    assert [line for line, _ in _problems(report)] == [451, 1751]


def test_truncated_gzip_keeps_the_queries_before_the_break(tmp_path: Path, read_all: Any) -> None:
    rng = random.Random(5)  # incompressible names, so the gzip is long enough to cut
    body = b"".join(
        orjson.dumps(_query(i, query_name=f"{rng.getrandbits(64):x}.example.")) + b"\n" for i in range(6000)
    )
    data = gzip.compress(body)
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 2])
    frames, report = read_all([tmp_path])
    kept = frames["dns"].height
    assert 1000 < kept < 6000
    assert frames["dns"]["_line"].to_list() == list(range(1, kept + 1))
    assert [(e.line, e.reason) for e in report.errors] == [(kept + 1, "truncated gzip")]


def test_a_record_that_is_not_utf8_costs_only_itself(tmp_path: Path, read_all: Any) -> None:
    """Arrow's reader does not check UTF-8: such a block goes line by line, where the bad
    record is reported by its line; the file is not taken for binary data."""
    lines = [orjson.dumps(_query(i)) for i in range(100)]
    lines[40] = lines[40].replace(b"host40", b"host\xff40")
    path = tmp_path / "queries.log"
    path.write_bytes(b"\n".join(lines) + b"\n")
    frames, report = read_all([path])
    assert frames["dns"].height == 99 and 41 not in frames["dns"]["_line"]
    assert frames["dns"]["query_name"].str.len_bytes().min() is not None  # every value is valid text
    assert [(e.line, e.reason.split(":")[0]) for e in report.errors] == [(41, "invalid JSON")]
