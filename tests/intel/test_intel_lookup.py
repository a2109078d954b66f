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


def test_repeated_values_keep_their_rows() -> None:
    """Lists are matched on distinct values and joined back: order, repeats and nulls survive."""
    intel = Intel.with_builtin_feeds(threat=[THREAT], trusted=[TRUSTED])
    values = pl.Series(["192.0.2.1", "203.0.113.9", None, "203.0.113.10", "203.0.113.9", "x"] * 3)
    found = intel.lookup(values, kind="ip", prefix="remote")
    assert found["remote_custom_list"].to_list() == [None, "soc", None, None, "soc", None] * 3
    assert found["remote_trusted"].to_list() == [False, False, False, True, False, False] * 3


def test_no_match_gives_typed_empty_columns() -> None:
    found = Intel.with_builtin_feeds(threat=[THREAT]).lookup(
        pl.Series(["192.0.2.1", None] * 5), kind="ip", prefix="remote"
    )
    assert found.schema == pl.Schema(
        {
            "remote_trusted": pl.Boolean(),
            "remote_custom_list": pl.String(),
            "remote_feed": pl.String(),
            "remote_feed_category": pl.String(),
        }
    )
    assert found.height == 10 and not found["remote_trusted"].any()
    assert found.drop("remote_trusted").null_count().row(0) == (10, 10, 10)
