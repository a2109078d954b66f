"""Matching correctness at the edges (IPv4, IPv6, CIDRs, domains) and against a plain-Python
reference on random lists; the range and domain tables the matcher builds once per list set."""

from __future__ import annotations

import ipaddress
import random

import polars as pl
import pytest

from keibi.intel import Intel, IntelList, ThreatListMatcher, match_domains, match_ips
from keibi.intel.match import DomainTable, RangeTable


def lists(*entries: tuple[str, list[str]]) -> list[IntelList]:
    return [IntelList.from_entries(name, values) for name, values in entries]


# --- IPv4 ---------------------------------------------------------------------------------


def test_v4_slash_zero_holds_every_address_and_nothing_else() -> None:
    found = match_ips(
        pl.Series(["0.0.0.0", "255.255.255.255", "8.8.8.8", "::1", "evil.example", None]),
        lists(("all", ["0.0.0.0/0"])),
    )
    assert found.to_list() == ["all", "all", "all", None, None, None]


def test_v4_slash_32_and_the_ends_of_the_address_space() -> None:
    lsts = lists(("ends", ["0.0.0.0", "255.255.255.255/32", "10.0.0.1/32"]))
    ips = ["0.0.0.0", "0.0.0.1", "255.255.255.255", "255.255.255.254", "10.0.0.1", "10.0.0.0", "10.0.0.2"]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["ends", None, "ends", None, "ends", None, None]


def test_v4_network_ending_at_the_last_address() -> None:
    lsts = lists(("top", ["255.255.255.0/24", "240.0.0.0/4"]), ("low", ["0.0.0.0/8"]))
    ips = ["255.255.255.255", "255.255.254.255", "240.0.0.0", "239.255.255.255", "0.255.255.255", "1.0.0.0"]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["top", "top", "top", None, "low", None]


def test_overlapping_cidrs_across_lists_first_list_wins_over_the_overlap_only() -> None:
    wide = ("wide", ["10.0.0.0/8"])
    narrow = ("narrow", ["10.1.0.0/16", "10.1.2.3"])
    ips = pl.Series(["10.1.2.3", "10.1.9.9", "10.2.0.0", "11.0.0.0"])
    assert match_ips(ips, lists(narrow, wide)).to_list() == ["narrow", "narrow", "wide", None]
    assert match_ips(ips, lists(wide, narrow)).to_list() == ["wide", "wide", "wide", None]
    # a third list between them only wins where neither earlier list holds the address
    middle = ("middle", ["10.1.2.0/24", "10.2.0.0/15"])
    assert match_ips(ips, lists(narrow, middle, wide)).to_list() == ["narrow", "narrow", "middle", None]


def test_nested_cidrs_within_one_list_and_the_gaps_around_the_inner_one() -> None:
    lsts = lists(
        ("outer-first", ["192.0.2.0/24", "192.0.2.128/25", "192.0.2.200"]),
        ("gap", ["192.0.2.0/23"]),
    )
    ips = [
        "192.0.2.0",
        "192.0.2.127",
        "192.0.2.128",
        "192.0.2.200",
        "192.0.2.255",
        "192.0.3.0",
        "192.0.1.255",
    ]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["outer-first"] * 5 + ["gap", None]


def test_a_later_lists_inner_network_does_not_cut_a_hole_in_an_earlier_outer_one() -> None:
    lsts = lists(("outer", ["198.51.100.0/24"]), ("inner", ["198.51.100.64/26", "198.51.100.7"]))
    ips = ["198.51.100.7", "198.51.100.64", "198.51.100.127", "198.51.100.128"]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["outer"] * 4
    reverse = lists(("inner", ["198.51.100.64/26", "198.51.100.7"]), ("outer", ["198.51.100.0/24"]))
    assert match_ips(pl.Series(ips), reverse).to_list() == ["inner", "inner", "inner", "outer"]


def test_adjacent_ranges_meet_without_a_gap_or_an_overlap() -> None:
    lsts = lists(("a", ["203.0.113.0/25"]), ("b", ["203.0.113.128/25", "203.0.114.0/24"]))
    ips = [
        "203.0.112.255",
        "203.0.113.0",
        "203.0.113.127",
        "203.0.113.128",
        "203.0.113.255",
        "203.0.114.0",
        "203.0.115.0",
    ]
    assert match_ips(pl.Series(ips), lsts).to_list() == [None, "a", "a", "b", "b", "b", None]


def test_host_bits_of_a_cidr_are_masked() -> None:
    lsts = lists(("masked", ["10.1.2.3/8", "2001:db8::1/32"]))
    ips = ["10.200.0.1", "11.0.0.0", "2001:db8:ffff::", "2001:db9::"]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["masked", None, "masked", None]


def test_the_same_network_on_two_lists_belongs_to_the_first() -> None:
    ips = pl.Series(["192.0.2.5", "2001:db8::5"])
    entries = ["192.0.2.0/24", "2001:db8::/64"]
    assert match_ips(ips, lists(("x", entries), ("y", entries))).to_list() == ["x", "x"]
    assert match_ips(ips, lists(("y", entries), ("x", entries))).to_list() == ["y", "y"]


# --- IPv6 ---------------------------------------------------------------------------------


def test_v6_slash_zero_and_slash_128() -> None:
    lsts = lists(("host", ["2001:db8::1/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]), ("all", ["::/0"]))
    ips = ["2001:db8::1", "2001:db8::2", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "10.0.0.1"]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["host", "all", "all", "host", None]


def test_v6_written_compressed_expanded_or_upper_case_is_one_address() -> None:
    lsts = lists(("six", ["2001:db8:0:0:1::/80"]))
    ips = [
        "2001:db8::1:0:0:5",
        "2001:0DB8:0000:0000:0001:0000:0000:0005",
        "2001:db8:0:0:1:ffff:ffff:ffff",
        "2001:db8:0:0:2::",
        " 2001:db8::1:0:0:1 ",
    ]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["six", "six", "six", None, "six"]


def test_v6_networks_across_the_64_bit_halves() -> None:
    # /64 and /65 split at the boundary between the hi and lo halves of the key
    lsts = lists(("low", ["2001:db8:1:2:8000::/65"]), ("half", ["2001:db8:1:2::/64"]))
    ips = [
        "2001:db8:1:2:8000::1",
        "2001:db8:1:2:7fff:ffff:ffff:ffff",
        "2001:db8:1:3::",
        "2001:db8:1:1:ffff::",
    ]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["low", "half", None, None]


def test_zone_ids_are_dropped() -> None:
    lsts = lists(("link-local", ["fe80::/10"]))
    assert match_ips(pl.Series(["fe80::1%eth0", "fe80::1%25en0", "fec0::1"]), lsts).to_list() == [
        "link-local",
        "link-local",
        None,
    ]


def test_ipv4_mapped_ipv6_dotted_is_its_ipv4_host_hex_is_ipv6() -> None:
    """Documented behaviour: dotted ``::ffff:a.b.c.d`` (what dual-stack sockets report) is the
    IPv4 host and matches IPv4 entries; the hex form is an IPv6 address and matches IPv6 entries only."""
    lsts = lists(("v4", ["1.2.3.4"]), ("mapped", ["::ffff:0:0/96"]))
    ips = ["::ffff:1.2.3.4", "::ffff:102:304", "1.2.3.4"]
    assert match_ips(pl.Series(ips), lsts).to_list() == ["v4", "mapped", "v4"]


def test_v4_and_v6_tables_do_not_mix() -> None:
    # ::a00:1 has the same low 32 bits as 10.0.0.1
    lsts = lists(("v4", ["10.0.0.0/8"]), ("v6", ["::/96"]))
    assert match_ips(pl.Series(["10.0.0.1", "::a00:1"]), lsts).to_list() == ["v4", "v6"]


# --- domains ------------------------------------------------------------------------------


def test_exact_and_subdomain_but_not_parent_or_look_alikes() -> None:
    lsts = lists(("c2", ["evil.example", "login.bank.example"]))
    domains = [
        "evil.example",
        "a.b.evil.example",
        "notevil.example",
        "evil.example.org",
        "bank.example",  # the parent of a child-only entry
        "x.login.bank.example",
        "login.bank.example",
        "example",
    ]
    assert match_domains(pl.Series(domains), lsts).to_list() == [
        "c2",
        "c2",
        None,
        None,
        None,
        "c2",
        "c2",
        None,
    ]


def test_trailing_dot_case_and_whitespace() -> None:
    lsts = lists(("c2", ["Evil.Example."]))
    domains = ["evil.example.", "WWW.EVIL.EXAMPLE", " evil.example ", "evil.example..", "evil.examples"]
    assert match_domains(pl.Series(domains), lsts).to_list() == ["c2", "c2", "c2", "c2", None]


def test_punycode_labels_compare_as_text() -> None:
    lsts = lists(("idn", ["xn--80ak6aa92e.com"]))
    domains = ["xn--80ak6aa92e.com", "WWW.XN--80AK6AA92E.COM", "xn--80ak6aa92e.net", "80ak6aa92e.com"]
    assert match_domains(pl.Series(domains), lsts).to_list() == ["idn", "idn", None, None]


def test_single_label_entries_hold_their_whole_tree() -> None:
    lsts = lists(("tld", ["zip"]), ("host", ["localhost"]))
    domains = ["zip", "files.zip", "a.b.zip", "zip.example", "localhost", "notlocalhost", "my.localhost."]
    assert match_domains(pl.Series(domains), lsts).to_list() == [
        "tld",
        "tld",
        "tld",
        None,
        "host",
        None,
        "host",
    ]


def test_first_list_wins_for_domains_at_any_depth() -> None:
    parent, child = ("parent", ["example.org"]), ("child", ["a.example.org"])
    domains = pl.Series(["b.a.example.org", "a.example.org", "example.org", "c.example.org"])
    assert match_domains(domains, lists(child, parent)).to_list() == ["child", "child", "parent", "parent"]
    assert match_domains(domains, lists(parent, child)).to_list() == ["parent"] * 4


def test_odd_domain_values_do_not_crash() -> None:
    lsts = lists(("c2", ["evil.example"]))
    domains = ["", ".", "..evil.example", "evil..example", "a" * 300 + ".evil.example", None, "192.0.2.1"]
    assert match_domains(pl.Series(domains), lsts).to_list() == [None, None, "c2", None, "c2", None, None]


def test_domain_table_falls_back_to_names_when_hashes_collide() -> None:
    entries = pl.DataFrame({"domain": ["evil.example", "pool.example"], "idx": [0, 1]})
    hashed = DomainTable.build(entries)
    assert hashed.hashed
    # Force the fallback the build takes on a collision: key on the names.
    named = DomainTable(
        hashed.domain.sort(), hashed.domain.sort(), pl.Series([0, 1], dtype=pl.UInt32), hashed.labels
    )
    for table in (hashed, named):
        found = table.found(pl.Series(["x.evil.example", "pool.example", "other.example"])).sort("value")
        assert found.rows() == [("pool.example", 1), ("x.evil.example", 0)]


# --- the tables ---------------------------------------------------------------------------


def test_range_table_is_disjoint_merged_and_sorted() -> None:
    def v4(*texts: str) -> list[int]:
        return [int(ipaddress.IPv4Address(a)) for a in texts]

    nets = pl.DataFrame(
        {
            "key": v4(
                "10.0.0.0", "10.0.0.0", "10.1.0.0", "10.2.0.0", "12.0.0.0", "12.0.1.0", "255.255.255.255"
            ),
            "prefix_len": [8, 16, 16, 16, 24, 24, 32],
            "idx": [0, 1, 0, 0, 2, 1, 3],
        }
    )
    table = RangeTable.build(nets, 32)

    def text(series: pl.Series) -> list[str]:
        return [str(ipaddress.IPv4Address(x)) for x in series.to_list()]

    # 10/8 (list 0) wins everywhere in it: the /16s inside merge into one range; the two
    # adjacent /24s of different lists stay apart; the last address is a range of its own.
    assert list(zip(text(table.starts), text(table.ends), table.idx.to_list(), strict=True)) == [
        ("10.0.0.0", "10.255.255.255", 0),
        ("12.0.0.0", "12.0.0.255", 2),
        ("12.0.1.0", "12.0.1.255", 1),
        ("255.255.255.255", "255.255.255.255", 3),
    ]
    assert table.starts.is_sorted() and (table.starts.shift(-1) > table.ends).drop_nulls().all()


def test_matcher_reports_its_size_and_kinds() -> None:
    m = ThreatListMatcher.build(lists(("mixed", ["192.0.2.1", "2001:db8::/32", "evil.example"])))
    assert m.has_ips and m.has_domains and m.estimated_size() > 0
    empty = ThreatListMatcher.build([])
    assert not empty.has_ips and not empty.has_domains
    assert empty.ip_found(
        pl.DataFrame(schema={"value": pl.String, "v4": pl.UInt32, "hi": pl.UInt64, "lo": pl.UInt64})
    ).is_empty()


def test_intel_lookup_trusted_wins_with_ranges_and_suffixes() -> None:
    threat = IntelList.from_entries("soc", ["0.0.0.0/0", "::/0", "example"])
    trusted = IntelList.from_entries(
        "ours", ["192.0.2.0/24", "2001:db8::/32", "good.example"], kind="trusted"
    )
    intel = Intel(threat=[threat], trusted=[trusted])
    ips = intel.lookup(
        pl.Series(["192.0.2.9", "198.51.100.1", "2001:db8::1", "2001:db9::1"]), kind="ip", prefix="r"
    )
    assert ips.rows() == [(True, None, None, None), (False, "soc", None, None)] * 2
    doms = intel.lookup(pl.Series(["a.good.example", "bad.example"]), kind="domain", prefix="d")
    assert doms.rows() == [(True, None, None, None), (False, "soc", None, None)]


# --- random cross-check against the ipaddress module --------------------------------------


def _random_lists(rng: random.Random, n_networks: int) -> list[list[str]]:
    """Three lists of networks in both families: many nested, some duplicated across lists."""
    out: list[list[str]] = [[], [], []]
    seeds: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for _ in range(n_networks):
        which = rng.randrange(3)
        if seeds and rng.random() < 0.4:  # nest in (or around) an earlier network
            base = rng.choice(seeds)
            bits = base.max_prefixlen
            plen = max(0, min(bits, base.prefixlen + rng.randint(-4, 12)))
            addr = (
                int(base.network_address) + rng.getrandbits(bits - base.prefixlen)
                if base.prefixlen < bits
                else int(base.network_address)
            )
            net = ipaddress.ip_network((addr, plen), strict=False)
        elif rng.random() < 0.7:
            plen = rng.choice([32, 32, 32, 24, 24, 20, 16, 12, 8, 31, 30, 1, 0])
            net = ipaddress.ip_network((rng.getrandbits(32), plen), strict=False)
        else:
            plen = rng.choice([128, 128, 64, 48, 32, 65, 127, 16, 1])
            net = ipaddress.ip_network((rng.getrandbits(128), plen), strict=False)
        seeds.append(net)
        # written as a CIDR with host bits sometimes left set, or as a bare address for /32, /128
        text = (
            str(net) if net.prefixlen != net.max_prefixlen or rng.random() < 0.5 else str(net.network_address)
        )
        if net.prefixlen and rng.random() < 0.2:
            text = (
                f"{net.network_address + rng.getrandbits(net.max_prefixlen - net.prefixlen)}/{net.prefixlen}"
            )
        out[which].append(text)
    return out


def _random_addresses(rng: random.Random, n: int, lists_: list[list[str]]) -> list[str]:
    nets = [ipaddress.ip_network(e, strict=False) for lst in lists_ for e in lst]
    out = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.6:  # inside (or at an edge of) a listed network
            net = rng.choice(nets)
            host = rng.choice([0, net.num_addresses - 1, rng.randrange(net.num_addresses), net.num_addresses])
            bits = net.max_prefixlen
            addr = (
                ipaddress.ip_address((int(net.network_address) + host) % (1 << bits))
                if bits == 32
                else ipaddress.IPv6Address((int(net.network_address) + host) % (1 << bits))
            )
        elif roll < 0.85:
            addr = ipaddress.IPv4Address(rng.getrandbits(32))
        else:
            addr = ipaddress.IPv6Address(rng.getrandbits(128))
        text = addr.exploded.upper() if addr.version == 6 and rng.random() < 0.2 else str(addr)
        out.append(text)
    return out


def _reference(addresses: list[str], lists_: list[list[str]]) -> list[int | None]:
    """First list holding each address, by membership per prefix length (no keibi code)."""
    tables = []
    for lst in lists_:
        held: set[tuple[int, int, int]] = set()
        for entry in lst:
            net = ipaddress.ip_network(entry, strict=False)
            held.add((net.version, net.prefixlen, int(net.network_address)))
        tables.append(held)
    answers: list[int | None] = []
    for text in addresses:
        addr = ipaddress.ip_address(text)
        bits = addr.max_prefixlen
        keys = {(addr.version, p, int(addr) >> (bits - p) << (bits - p)) for p in range(bits + 1)}
        answers.append(next((i for i, held in enumerate(tables) if keys & held), None))
    return answers


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_addresses_against_the_ipaddress_module(seed: int) -> None:
    rng = random.Random(seed)
    lists_ = _random_lists(rng, 2000)
    addresses = _random_addresses(rng, 5000, lists_)
    intel_lists = [IntelList.from_entries(f"list{i}", entries) for i, entries in enumerate(lists_)]
    m = ThreatListMatcher.build(intel_lists)
    got = m.ip_index(pl.Series(addresses)).to_list()
    want = _reference(addresses, lists_)
    wrong = [(a, g, w) for a, g, w in zip(addresses, got, want, strict=True) if g != w]
    assert not wrong, wrong[:10]
    assert sum(w is not None for w in want) > 2000  # the cross-check exercised matches, not only misses


@pytest.mark.parametrize("seed", [1, 2])
def test_random_domains_against_a_suffix_reference(seed: int) -> None:
    rng = random.Random(seed)
    words = ["a", "b", "evil", "pool", "cdn", "xn--p1ai", "example", "org", "com", "x1", "login"]

    def name() -> str:
        return ".".join(rng.choice(words) for _ in range(rng.randint(1, 5)))

    lists_ = [[name() for _ in range(300)] for _ in range(3)]
    queries = [name() for _ in range(3000)] + [
        f"{name()}.{rng.choice(lists_[rng.randrange(3)])}" for _ in range(1000)
    ]
    got = ThreatListMatcher.build(
        [IntelList.from_entries(f"l{i}", e) for i, e in enumerate(lists_)]
    ).domain_index(pl.Series(queries))

    def first(query: str) -> int | None:
        return next(
            (i for i, lst in enumerate(lists_) if any(query == e or query.endswith("." + e) for e in lst)),
            None,
        )

    want = [first(q) for q in queries]
    assert got.to_list() == want
    assert sum(w is not None for w in want) > 1000
