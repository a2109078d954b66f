"""Address parsing and classification as expressions."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from keibi.intel import ipv4_to_u32, ipv6_to_halves, is_ip, is_private, normalise_domain


def _eval(expr: pl.Expr, values: Sequence[str | None]) -> list[object]:
    return pl.DataFrame({"v": pl.Series(values, dtype=pl.String)}).select(expr.alias("out"))["out"].to_list()


def test_ipv4_parsing() -> None:
    values = [
        "0.0.0.0",
        "255.255.255.255",
        "10.1.2.3",
        " 08.1.250.216 ",
        "1.2.3.256",
        "1.2.3",
        "a.b.c.d",
        None,
    ]
    assert _eval(ipv4_to_u32(pl.col("v")), values) == [
        0,
        4294967295,
        167838211,
        134347480,
        None,
        None,
        None,
        None,
    ]


def test_ipv6_halves() -> None:
    hi, lo = ipv6_to_halves(pl.col("v"))
    values = ["::", "::1", "2001:db8::8a2e:370:7334", "1::2::3", "12345::", "1.2.3.4"]
    assert _eval(hi, values) == [0, 0, 0x20010DB800000000, None, None, None]
    assert _eval(lo, values) == [0, 1, 0x00008A2E03707334, None, None, None]


def test_private_and_ip() -> None:
    values: list[str | None] = [
        "10.0.0.1",
        "172.31.255.1",
        "172.32.0.1",
        "192.168.1.1",
        "100.64.0.1",
        "8.8.8.8",
        "fd00::1",
        "2600::1",
        "ec2.amazonaws.com",
        None,
    ]
    assert is_private(pl.Series(values)).to_list() == [
        True,
        True,
        False,
        True,
        True,
        False,
        True,
        False,
        None,
        None,
    ]
    assert is_ip(pl.Series(values)).to_list() == [True] * 8 + [False, False]


def test_normalise_domain() -> None:
    assert _eval(normalise_domain(pl.col("v")), [" Pool.Example.ORG. ", "a.b", None]) == [
        "pool.example.org",
        "a.b",
        None,
    ]
