"""Which side of a flow is the instance and who opened the connection (``keibi.enrich.network``)."""

from __future__ import annotations

import polars as pl
import pytest

from keibi.enrich import flow_sides

CASES = [
    # src, dst, srcport, dstport, flow-direction -> direction, local_ip, local_port, remote_ip, remote_port
    ("92.55.146.245", "172.31.77.31", 48316, 22, None, "INBOUND", "172.31.77.31", 22, "92.55.146.245", 48316),
    ("172.31.77.31", "92.55.146.245", 22, 48316, None, "INBOUND", "172.31.77.31", 22, "92.55.146.245", 48316),
    (
        "172.31.77.31",
        "92.55.146.245",
        38316,
        22,
        None,
        "OUTBOUND",
        "172.31.77.31",
        38316,
        "92.55.146.245",
        22,
    ),
    # a web server's reply logged as egress is still an inbound connection
    ("10.0.0.5", "203.0.113.9", 443, 51000, "egress", "INBOUND", "10.0.0.5", 443, "203.0.113.9", 51000),
    # ports that do not tell: flow-direction does
    ("10.0.0.5", "10.0.0.6", 45000, 50001, "egress", "OUTBOUND", "10.0.0.5", 45000, "10.0.0.6", 50001),
    ("10.0.0.6", "10.0.0.5", 50001, 45000, "ingress", "INBOUND", "10.0.0.5", 45000, "10.0.0.6", 50001),
    # no flow-direction, both private: the source is local, the lower port is the server
    ("10.0.0.5", "10.0.0.6", 8080, 50000, None, "INBOUND", "10.0.0.5", 8080, "10.0.0.6", 50000),
    ("10.0.0.5", "10.0.0.6", 50000, 8080, None, "OUTBOUND", "10.0.0.5", 50000, "10.0.0.6", 8080),
    # ICMP (ports 0): the private side opened it
    ("172.31.1.1", "8.8.8.8", 0, 0, None, "OUTBOUND", "172.31.1.1", 0, "8.8.8.8", 0),
    ("8.8.8.8", "172.31.1.1", 0, 0, None, "INBOUND", "172.31.1.1", 0, "8.8.8.8", 0),
    ("10.0.0.5", "10.0.0.6", 0, 0, None, "UNKNOWN", "10.0.0.5", 0, "10.0.0.6", 0),
    # NODATA records carry no addresses
    (None, None, None, None, None, "UNKNOWN", None, None, None, None),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[2]}->{c[1]}:{c[3]} {c[4]}" for c in CASES])
def test_flow_sides(case: tuple[object, ...]) -> None:
    src, dst, sport, dport, fdir, *want = case
    flows = pl.DataFrame(
        {
            "srcaddr": [src],
            "dstaddr": [dst],
            "srcport": [sport],
            "dstport": [dport],
            "flow_direction": [fdir],
        },
        schema={
            "srcaddr": pl.String,
            "dstaddr": pl.String,
            "srcport": pl.Int32,
            "dstport": pl.Int32,
            "flow_direction": pl.String,
        },
    )
    out = flow_sides(flows).select("direction", "local_ip", "local_port", "remote_ip", "remote_port")
    assert out.row(0) == tuple(want)


def test_flow_sides_of_one_batch_match_row_by_row() -> None:
    """All cases in one batch (flow-direction logged on some rows only, addresses shared across
    rows) give each row the answer it gets alone: nothing depends on the rest of the batch."""
    columns = ["srcaddr", "dstaddr", "srcport", "dstport", "flow_direction"]
    flows = pl.DataFrame(
        [c[:5] for c in CASES] * 2,
        schema={
            "srcaddr": pl.String,
            "dstaddr": pl.String,
            "srcport": pl.Int32,
            "dstport": pl.Int32,
            "flow_direction": pl.String,
        },
        orient="row",
    )
    assert flows.columns == columns
    out = flow_sides(flows).select("direction", "local_ip", "local_port", "remote_ip", "remote_port")
    assert out.rows() == [tuple(c[5:]) for c in CASES] * 2
    assert flow_sides(flows)["remote_private"].to_list()[:2] == [False, False]
