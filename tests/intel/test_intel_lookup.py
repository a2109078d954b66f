"""``Intel.lookup``: trusted lists win, user lists and built-in feeds reported apart."""

from __future__ import annotations

import polars as pl

from keibi.intel import Intel, IntelList
from keibi.intel.feeds import MINING_POOLS_FEED

THREAT = IntelList.from_entries("soc", ["203.0.113.0/24", "evil.example", "moneropool.ru"])
TRUSTED = IntelList.from_entries("partners", ["203.0.113.10", "good.evil.example"], kind="trusted")


def test_ip_lookup_trusted_wins() -> None:
    intel = Intel.with_builtin_feeds(threat=[THREAT], trusted=[TRUSTED])
    found = intel.lookup(
        pl.Series(["203.0.113.9", "203.0.113.10", "192.0.2.1", None]), kind="ip", prefix="remote"
    )
    assert found.columns == ["remote_trusted", "remote_custom_list", "remote_feed", "remote_feed_category"]
    assert found.rows() == [
        (False, "soc", None, None),
        (True, None, None, None),
        (False, None, None, None),
        (False, None, None, None),
    ]


def test_domain_lookup_user_list_and_feed() -> None:
    intel = Intel.with_builtin_feeds(threat=[THREAT], trusted=[TRUSTED])
    domains = pl.Series(
        ["x.moneropool.ru", "a.evil.example", "good.evil.example", "pool.supportxmr.com", "amazonaws.com"]
    )
    found = intel.lookup(domains, kind="domain", prefix="domain")
    assert found.rows() == [
        (False, "soc", MINING_POOLS_FEED, "CryptoCurrency"),
        (False, "soc", None, None),
        (True, None, None, None),  # trusted also silences the built-in feed
        (False, None, MINING_POOLS_FEED, "CryptoCurrency"),
        (False, None, None, None),
    ]


def test_matchers_are_built_once_per_list_set() -> None:
    intel = Intel.with_builtin_feeds(threat=[THREAT])
    assert intel.matcher(intel.threat) is intel.matcher(intel.threat)
    assert intel.matcher(intel.threat) is not intel.matcher(intel.feeds)


def test_without_feeds_nothing_is_cryptocurrency() -> None:
    found = Intel().lookup(pl.Series(["moneropool.ru"]), kind="domain", prefix="domain")
    assert found.rows() == [(False, None, None, None)]
