"""Route 53 Resolver query logs into ``DNS``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
from polars.testing import assert_frame_equal

from keibi.sources import DNS

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
            "answers": ['[{"Rdata":"198.51.100.77","Type":"A","Class":"IN"}]', "[]"],
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
