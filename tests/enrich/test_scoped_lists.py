"""Lists scoped to some (account, Region) pairs (``IntelList.scope``, the API's lists) apply to
those records only, merged with the unscoped lists: trusted on either wins, the first threat
match is the unscoped one; hand-built batches of two accounts."""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest

from keibi.enrich.intel import with_answer_feeds, with_lists
from keibi.intel import Intel, IntelList
from keibi.sources.schema import DNS_ANSWER

A, B, ADMIN = "111111111111", "222222222222", "333333333333"
EAST, WEST = "us-east-1", "us-west-2"
BAD = "203.0.113.9"


def _scoped(lst: IntelList, *pairs: tuple[str, str]) -> IntelList:
    return replace(lst, scope=frozenset(pairs))


def _threat(name: str, *entries: str) -> IntelList:
    return IntelList.from_entries(name, entries)


def _trusted(name: str, *entries: str) -> IntelList:
    return IntelList.from_entries(name, entries, kind="trusted")


def _batch(rows: list[tuple[str, str, str]], column: str = "remote_ip") -> pl.DataFrame:
    return pl.DataFrame(rows, schema=[column, "account_id", "region"], orient="row")


def _looked(intel: Intel, rows: list[tuple[str, str, str]]) -> list[tuple[bool, str | None]]:
    out = with_lists(_batch(rows), intel, column="remote_ip", prefix="remote", kind="ip")
    return list(out.select("remote_trusted", "remote_custom_list").iter_rows())


def test_scoped_threat_list_matches_only_its_accounts_rows() -> None:
    intel = Intel(threat=[_scoped(_threat("mine", BAD), (A, EAST))])
    rows = [(BAD, A, EAST), (BAD, B, EAST), (BAD, A, WEST), ("198.51.100.1", A, EAST), (BAD, A, EAST)]
    assert _looked(intel, rows) == [
        (False, "mine"),
        (False, None),
        (False, None),
        (False, None),
        (False, "mine"),
    ]
    # Without the records' owners (``keibi intel explain``), only unscoped lists answer.
    plain = intel.lookup(pl.Series([BAD]), kind="ip", prefix="v")
    assert plain.row(0) == (False, None, None, None)


def test_batch_all_in_scope() -> None:
    intel = Intel(threat=[_scoped(_threat("mine", BAD), (A, EAST), (B, EAST))])
    rows = [(BAD, A, EAST), ("198.51.100.1", B, EAST), (BAD, B, EAST)]
    assert _looked(intel, rows) == [(False, "mine"), (False, None), (False, "mine")]


def test_scoped_trusted_list_silences_a_global_threat_for_its_accounts_only() -> None:
    intel = Intel(threat=[_threat("global", BAD)], trusted=[_scoped(_trusted("office", BAD), (A, EAST))])
    rows = [(BAD, A, EAST), (BAD, B, EAST), (BAD, A, WEST)]
    assert _looked(intel, rows) == [(True, None), (False, "global"), (False, "global")]


def test_global_trusted_list_silences_a_scoped_threat() -> None:
    intel = Intel(threat=[_scoped(_threat("mine", BAD), (A, EAST))], trusted=[_trusted("everyone", BAD)])
    assert _looked(intel, [(BAD, A, EAST), (BAD, B, EAST)]) == [(True, None), (True, None)]


def test_unscoped_threat_list_is_named_first() -> None:
    other = "198.51.100.7"
    intel = Intel(threat=[_scoped(_threat("mine", BAD, other), (A, EAST)), _threat("global", BAD)])
    rows = [(BAD, A, EAST), (other, A, EAST), (other, B, EAST)]
    assert _looked(intel, rows) == [(False, "global"), (False, "mine"), (False, None)]


def test_overlapping_scopes_merge() -> None:
    """A member is in its own scope and its administrator's: the admin's trusted list wins over
    the member's threat list, and of two scopes' threat lists the first in match order names it."""
    other = "198.51.100.7"
    intel = Intel(
        threat=[
            _scoped(_threat("member's", BAD, other), (A, EAST)),
            _scoped(_threat("admin's", other), (ADMIN, EAST), (A, EAST)),
        ],
        trusted=[_scoped(_trusted("admin office", BAD), (ADMIN, EAST), (A, EAST))],
    )
    rows = [(BAD, A, EAST), (other, A, EAST), (other, ADMIN, EAST), (BAD, ADMIN, EAST), (BAD, B, EAST)]
    assert _looked(intel, rows) == [
        (True, None),
        (False, "member's"),
        (False, "admin's"),
        (True, None),
        (False, None),
    ]


def test_scoped_trusted_list_nulls_feeds_and_domains() -> None:
    feed = IntelList.from_entries("pools", ["pool.example"], category="CryptoCurrency")
    intel = Intel(feeds=[feed], trusted=[_scoped(_trusted("ours", "pool.example"), (A, EAST))])
    batch = _batch([("x.pool.example", A, EAST), ("x.pool.example", B, EAST)], column="domain")
    out = with_lists(batch, intel, column="domain", prefix="domain", kind="domain")
    assert out.select("domain_trusted", "domain_feed", "domain_feed_category").rows() == [
        (True, None, None),
        (False, "pools", "CryptoCurrency"),
    ]


def test_no_scoped_lists_no_owners_needed() -> None:
    """Without scoped lists the batch's owner columns are not read (nor required)."""
    intel = Intel(threat=[_threat("global", BAD)])
    out = with_lists(
        pl.DataFrame({"remote_ip": [BAD]}), intel, column="remote_ip", prefix="remote", kind="ip"
    )
    assert out["remote_custom_list"].to_list() == ["global"]
    assert not intel.scoped and intel.scopes() == []


def test_a_feed_has_no_scope() -> None:
    feed = IntelList.from_entries("pools", ["pool.example"], category="CryptoCurrency")
    with pytest.raises(ValueError, match="a feed applies to every account"):
        Intel(feeds=[_scoped(feed, (A, EAST))])


def test_dns_answers_on_a_scoped_trusted_list() -> None:
    pool, other = "198.51.100.20", "198.51.100.21"
    feed = IntelList.from_entries("pools", [pool, other], category="CryptoCurrency")
    intel = Intel(feeds=[feed], trusted=[_scoped(_trusted("ours", pool), (A, EAST))])
    answers = [[{"Rdata": pool, "Type": "A", "Class": "IN"}, {"Rdata": other, "Type": "A", "Class": "IN"}]]
    queries = pl.DataFrame(
        {
            "answers": [answers[0], answers[0], answers[0][:1]],
            "account_id": [A, B, A],
            "region": [EAST, EAST, EAST],
        },
        schema={"answers": pl.List(DNS_ANSWER), "account_id": pl.String(), "region": pl.String()},
    )
    out = with_answer_feeds(queries, intel)
    assert out.select("answer_ip", "answer_feed").rows() == [(other, "pools"), (pool, "pools"), (None, None)]
    assert out.columns == [*queries.columns, "answer_ip", "answer_feed", "answer_feed_category"]
