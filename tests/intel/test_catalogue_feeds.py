"""The feed catalogue: every category covered or explained, every entry well-formed, and every
feed's fixture copy (its real format, cut down) served by a local HTTP server, fetched and
parsed into the entries it holds."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from keibi.errors import ConfigError
from keibi.intel import FEED_CATEGORIES, Intel
from keibi.intel.catalogue import FEEDS, UNCOVERED, FeedSpec, feed, parse_catalogue
from keibi.intel.fetch import fetch
from keibi.intel.formats import LIST_FORMATS
from keibi.intel.lists import parse_list
from tests.intel._http import FeedServer, Route, feed_server

FIXTURES = Path(__file__).parent / "fixtures"

# What each fixture copy holds, written out by hand from the files.
EXPECTED: dict[str, set[str]] = {
    "tor-exits": {"192.0.2.10", "192.0.2.11", "198.51.100.23", "203.0.113.77"},
    "tor-relays": {
        "192.0.2.10",
        "192.0.2.11",
        "192.0.2.40",
        "198.51.100.23",
        "198.51.100.61",
        "203.0.113.77",
        "2001:db8:7:1::10",
        "2001:db8:7:2::22",
    },
    "feodo-c2": {"192.0.2.146", "198.51.100.18", "198.51.100.201", "203.0.113.5"},
    "threatfox-hosts": {
        "panel.c2-login.example",
        "update-check.loader.example",
        "cdn.stage2-payload.example",
    },
    "urlhaus-hosts": {
        "downloads.dropper-host.example",
        "free-invoices.example",
        "mirror3.bad-builds.example",
    },
    "openphish": {
        "secure-login.bank-verify.example",
        "account-update.mail-portal.example",
        "wallet-connect.example",
        "203.0.113.88",
    },
    "phishing-army": {
        "account-verify.example",
        "login-microsoftonline.auth-session.example",
        "secure.paypa1-support.example",
    },
    "spamhaus-drop": {"192.0.2.0/24", "198.51.100.128/25", "203.0.113.0/26"},
    "spamhaus-dropv6": {"2001:db8:4000::/36", "2001:db8:f00d::/48"},
    "blocklist-de": {"192.0.2.200", "198.51.100.7", "203.0.113.199", "2001:db8:dead::beef"},
    "cins-army": {"192.0.2.33", "192.0.2.34", "198.51.100.99", "203.0.113.250"},
    "et-compromised": {"192.0.2.71", "198.51.100.72", "203.0.113.73"},
    "coinblocker": {"pool.hashmine.example", "xmr-eu1.pool-example.example", "stratum.cryptopool.example"},
}


@pytest.fixture(scope="module")
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        for spec in FEEDS.values():
            running.routes[f"/{spec.name}"] = Route(
                (FIXTURES / f"{spec.name}.txt").read_bytes(), etag=f'"{spec.name}"'
            )
        yield running


def test_every_category_has_a_feed_or_says_why_not() -> None:
    covered = {spec.category for spec in FEEDS.values()}
    assert covered | set(UNCOVERED) == set(FEED_CATEGORIES)
    assert covered.isdisjoint(UNCOVERED)
    assert all(reason.strip() for reason in UNCOVERED.values())


@pytest.mark.parametrize("name", list(FEEDS))
def test_each_entry_is_well_formed(name: str) -> None:
    spec = FEEDS[name]
    assert spec.name == name
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name)
    assert spec.format in LIST_FORMATS
    assert spec.category in FEED_CATEGORIES
    assert spec.url.startswith("https://")
    assert spec.homepage.startswith("https://")
    assert spec.description and spec.license
    assert spec.refresh_minutes >= 60  # no public feed here changes faster than hourly
    assert (FIXTURES / f"{name}.txt").is_file(), "every catalogued feed has a fixture copy"


def test_dan_me_uk_is_polled_less_than_every_30_minutes() -> None:
    assert all(spec.refresh_minutes >= 30 for spec in FEEDS.values() if "dan.me.uk" in spec.url)


@pytest.mark.parametrize("name", list(FEEDS))
def test_each_feed_fixture_is_fetched_and_parsed(server: FeedServer, name: str) -> None:
    spec = FEEDS[name]
    got = fetch(server.url(f"/{name}"))
    assert got.etag == f'"{name}"'
    assert got.data is not None
    lst = parse_list(got.data, spec.format, where=got.location, name=name, category=spec.category)
    assert lst.problems == ()
    assert len(lst) == len(EXPECTED[name])
    single = sorted(v for v in EXPECTED[name] if "/" not in v)
    ips = pl.Series([v for v in single if _is_ip(v)], dtype=pl.String)
    domains = pl.Series([v for v in single if not _is_ip(v)], dtype=pl.String)
    intel = Intel(feeds=[lst])
    for values, kind in ((ips, "ip"), (domains, "domain")):
        found = intel.lookup(values, kind=kind, prefix="r")
        assert found["r_feed"].to_list() == [name] * len(values)
        assert found["r_feed_category"].to_list() == [spec.category] * len(values)
    if name in NETWORKS:  # a CIDR feed covers the addresses inside its networks, not beyond
        inside, outside = NETWORKS[name]
        found = intel.lookup(pl.Series(inside + outside), kind="ip", prefix="r")["r_feed"].to_list()
        assert found == [name] * len(inside) + [None] * len(outside)


# Addresses inside and just outside the networks of the CIDR feeds' fixtures.
NETWORKS: dict[str, tuple[list[str], list[str]]] = {
    "spamhaus-drop": (["192.0.2.9", "198.51.100.200", "203.0.113.63"], ["198.51.100.127", "203.0.113.64"]),
    "spamhaus-dropv6": (["2001:db8:4fff::1", "2001:db8:f00d:1::1"], ["2001:db8:5000::1", "2001:db8:f00e::1"]),
}


def _is_ip(value: str) -> bool:
    return ":" in value or value.replace(".", "").isdigit()


def test_exits_listed_first_win_over_relays(server: FeedServer) -> None:
    lists = []
    for name in ("tor-exits", "tor-relays"):
        data = fetch(server.url(f"/{name}")).data
        assert data is not None
        lists.append(parse_list(data, "TXT", where=name, name=name, category=FEEDS[name].category))
    found = Intel(feeds=lists).lookup(pl.Series(["192.0.2.10", "192.0.2.40"]), kind="ip", prefix="r")
    assert found["r_feed_category"].to_list() == ["Tor", "TorRelay"]


def test_feed_names_a_known_feed_or_lists_them() -> None:
    assert feed("spamhaus-drop") is FEEDS["spamhaus-drop"]
    with pytest.raises(ConfigError, match=r"no feed named 'nope' in the catalogue \(known: tor-exits, "):
        feed("nope")


GOOD = """
[my-feed]
url = "https://example.org/list.txt"
format = "HOSTS"
category = "Phishing"
description = "d"
homepage = "https://example.org/"
license = "l"
refresh_minutes = 60
"""


def test_parse_catalogue_reads_a_good_entry() -> None:
    assert parse_catalogue(GOOD) == {
        "my-feed": FeedSpec(
            name="my-feed",
            url="https://example.org/list.txt",
            format="HOSTS",
            category="Phishing",
            description="d",
            homepage="https://example.org/",
            license="l",
            refresh_minutes=60,
        )
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('format = "HOSTS"', 'format = "CSV"'), r"feeds.toml:my-feed.format: unknown format 'CSV'"),
        (('category = "Phishing"', 'category = "Spam"'), r"my-feed.category: unknown category 'Spam'"),
        (('url = "https://example.org/list.txt"', 'url = "ftp://example.org/x"'), r"my-feed.url: .*http"),
        (("refresh_minutes = 60", "refresh_minutes = 0"), r"my-feed.refresh_minutes: must be a whole number"),
        (("refresh_minutes = 60", 'refresh_minutes = "60"'), r"my-feed.refresh_minutes"),
        (('license = "l"', 'license = ""'), r"my-feed.license: must be a non-empty string"),
        (('license = "l"', 'licence = "l"'), r"my-feed.licence: unknown key 'licence'"),
        (('license = "l"\n', ""), r"my-feed.license: missing"),
        (("[my-feed]", "[my-feed"), r"feeds.toml: not valid TOML"),
    ],
)
def test_parse_catalogue_names_the_bad_key(change: tuple[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_catalogue(GOOD.replace(*change), where="feeds.toml")
