"""Flow enrichment parses both sides once and shares the table: the output must not change.

The reference is the unshared path (``flow_sides`` parsing its own addresses, then a lookup
that parses ``remote_ip`` again), on a batch mixing IPv4, IPv6, host names, nulls, and list
entries that match a local address only (present in the shared table, absent from
``remote_ip``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from keibi.enrich import enrich, flow_sides
from keibi.enrich.network import flow_addresses
from keibi.intel import Intel, IntelList

ROWS = [
    ("10.0.0.5", "203.0.113.9", 44321, 443, "egress"),
    ("203.0.113.9", "10.0.0.5", 443, 44321, "ingress"),
    ("198.51.100.7", "10.0.0.6", 51000, 22, None),
    ("10.0.0.6", "198.51.100.7", 22, 51000, None),
    ("fd00::1", "2001:db8::7", 40000, 80, None),
    ("2001:db8::7", "fe80::2", 80, 40000, None),
    ("192.0.2.1", "192.0.2.200", 1000, 2000, None),
    ("not-an-ip", "10.0.0.7", 1, 2, None),
    (None, "10.0.0.8", None, None, None),
    ("172.16.3.4", "100.64.0.1", 5000, 5000, None),
]
INTEL = Intel.with_builtin_feeds(
    threat=[IntelList.from_entries("bad", ["203.0.113.0/24", "2001:db8::/32", "10.0.0.6"])],
    trusted=[IntelList.from_entries("ours", ["198.51.100.7"], kind="trusted")],
)


def _flows() -> pl.DataFrame:
    schema = {
        "srcaddr": pl.String,
        "dstaddr": pl.String,
        "srcport": pl.Int32,
        "dstport": pl.Int32,
        "flow_direction": pl.String,
    }
    # Several chunks, as a batch concatenated from parsed frames is.
    part = pl.DataFrame(ROWS, schema=schema, orient="row")
    flows = pl.concat([part, part.reverse(), part], rechunk=False)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    return flows.with_columns(
        pl.lit("eni-0123456789abcdef0").alias("interface_id"),
        pl.datetime_range(start, start + timedelta(seconds=flows.height - 1), "1s", eager=True).alias(
            "event_time"
        ),
    )


def test_shared_table_gives_the_unshared_result() -> None:
    flows = _flows()
    sides = flow_sides(flows)
    looked = INTEL.lookup(sides["remote_ip"], kind="ip", prefix="remote")
    want = sides.hstack(looked.get_columns())
    enriched = enrich(flows, "vpc_flow", INTEL)
    assert_frame_equal(enriched.drop("first_of_interface"), want)
    assert enriched["first_of_interface"].to_list() == [True] + [False] * (flows.height - 1)
    assert_frame_equal(flow_sides(flows, flow_addresses(flows)), sides)
    # The lists really matched: remote threats, a trusted remote, and the local-only 10.0.0.6 ignored.
    out = enrich(flows, "vpc_flow", INTEL)
    assert out["remote_custom_list"].drop_nulls().unique().to_list() == ["bad"]
    assert out.filter(pl.col("remote_ip") == "198.51.100.7")["remote_trusted"].all()
    assert out.filter(pl.col("remote_ip") == "10.0.0.6").is_empty()


def test_lookup_with_a_superset_table_matches_its_own_parse() -> None:
    flows = _flows()
    remote = flow_sides(flows)["remote_ip"]
    own = INTEL.lookup(remote, kind="ip", prefix="remote")
    shared = INTEL.lookup(remote, kind="ip", prefix="remote", table=flow_addresses(flows))
    assert_frame_equal(shared, own)
    assert own["remote_custom_list"].null_count() < own.height


def test_no_matches_with_a_table_is_all_null() -> None:
    flows = _flows()
    remote = flow_sides(flows)["remote_ip"]
    found = Intel().lookup(remote, kind="ip", prefix="remote", table=flow_addresses(flows))
    assert found["remote_trusted"].sum() == 0
    assert found["remote_custom_list"].null_count() == found.height
