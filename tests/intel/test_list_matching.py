"""Vectorised matching: CIDRs of several prefix lengths, IPv6, subdomains, first list wins."""

from __future__ import annotations

import bisect
import ipaddress
import itertools

import polars as pl

from keibi.intel import IntelList, ThreatListMatcher, match_domains, match_ips

WIDE = IntelList.from_entries("wide", ["10.0.0.0/8", "2001:db8::/32"])
NARROW = IntelList.from_entries("narrow", ["10.20.30.0/24", "198.51.100.7", "2001:db8:0:1::/64"])
HOSTS = IntelList.from_entries("hosts", ["10.20.30.40", "192.0.2.0/25", "::1"])


def test_cidrs_of_several_lengths_keep_which_list_matched() -> None:
    ips = pl.Series(
        [
            "10.20.30.40",
            "10.20.30.41",
            "10.99.0.1",
            "198.51.100.7",
            "198.51.100.8",
            "192.0.2.127",
            "192.0.2.128",
        ]
    )
    assert match_ips(ips, [HOSTS, NARROW, WIDE]).to_list() == [
        "hosts",
        "narrow",
        "wide",
        "narrow",
        None,
        "hosts",
        None,
    ]
    # The same addresses with the lists in the other order: the first list that holds one wins.
    assert match_ips(ips, [WIDE, NARROW, HOSTS]).to_list() == [
        "wide",
        "wide",
        "wide",
        "narrow",
        None,
        "hosts",
        None,
    ]


def test_ipv6_exact_and_cidr() -> None:
    ips = pl.Series(
        ["2001:db8:0:1::5", "2001:DB8::9", "2001:db9::1", "::1", "0:0:0:0:0:0:0:1", "fe80::1%eth0"]
    )
    assert match_ips(ips, [NARROW, WIDE, HOSTS]).to_list() == ["narrow", "wide", None, "hosts", "hosts", None]


def test_invalid_addresses_do_not_match_or_crash() -> None:
    # LogLicker-anonymised CloudTrail writes octets with leading zeros; they read as decimal.
    ips = pl.Series(
        [
            "08.1.250.216",
            "255.18.064.253",
            "256.1.1.1",
            "ec2.amazonaws.com",
            "",
            None,
            "1.2.3",
            "::ffff:1.2.3.400",
        ]
    )
    lists = [IntelList.from_entries("loglicker", ["8.1.250.216", "255.18.64.0/24"])]
    assert match_ips(ips, lists).to_list() == ["loglicker", "loglicker", None, None, None, None, None, None]


def test_ipv4_mapped_addresses_match_as_their_ipv4_host() -> None:
    ips = pl.Series(
        [
            "::ffff:198.51.100.7",
            "::FFFF:198.51.100.9",
            "0:0:0:0:0:ffff:198.51.100.8",
            "::ffff:c633:6407",
            "::1.2.3.4",
        ]
    )
    v4 = [IntelList.from_entries("v4", ["198.51.100.0/28"])]
    v6 = [IntelList.from_entries("v6", ["::ffff:0:0/96"])]
    assert match_ips(ips, v4).to_list() == ["v4", "v4", "v4", None, None]
    assert match_ips(ips, v6).to_list() == [None, None, None, "v6", None]


def test_subdomains_match_and_names_are_normalised() -> None:
    lists = [IntelList.from_entries("c2", ["*.evil.example", "pool.example.org"])]
    domains = pl.Series(
        [
            "evil.example",
            "A.B.EVIL.EXAMPLE.",
            "notevil.example",
            "evil.example.com",
            "pool.example.org",
            "example.org",
            None,
        ]
    )
    assert match_domains(domains, lists).to_list() == ["c2", "c2", None, None, "c2", None, None]


def test_no_lists_and_empty_columns() -> None:
    m = ThreatListMatcher.build([])
    assert m.match_ips(pl.Series(["10.0.0.1"])).to_list() == [None]
    assert m.match_domains(pl.Series(["evil.example"])).to_list() == [None]
    assert match_ips(pl.Series([], dtype=pl.String), [WIDE]).to_list() == []


def test_a_million_addresses_against_a_hundred_thousand_networks() -> None:
    spread = (pl.int_range(0, pl.len(), dtype=pl.Int64) * 2654435761) % (1 << 32)

    def dotted(x: pl.Expr) -> pl.Expr:
        return pl.format("{}.{}.{}.{}", x // (1 << 24) % 256, x // (1 << 16) % 256, x // 256 % 256, x % 256)

    nets = pl.DataFrame({"i": range(100_000)}).select(
        pl.format("{}/{}", dotted(spread), (pl.col("i") % 17) + 16).alias("e")
    )["e"]
    ips = pl.DataFrame({"i": range(1_000_000)}).select(dotted(spread * 7 + 12345).alias("ip"))["ip"]
    matcher = ThreatListMatcher.build([IntelList.from_entries("big", nets.to_list())])
    found = matcher.match_ips(ips)
    assert found.len() == 1_000_000
    # An independent answer for a sample: the networks as sorted integer ranges, bisected.
    ranges = sorted(
        (int(n.network_address), int(n.broadcast_address))
        for n in (ipaddress.ip_network(e, strict=False) for e in nets.to_list())
    )
    starts = [r[0] for r in ranges]
    ends = list(itertools.accumulate((r[1] for r in ranges), max))
    for ip, got in list(zip(ips.to_list(), found.to_list(), strict=True))[::500]:
        value = int(ipaddress.ip_address(ip))
        i = bisect.bisect_right(starts, value) - 1
        assert (i >= 0 and ends[i] >= value) == (got == "big"), ip
