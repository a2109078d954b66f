"""Built match tables kept between runs: ``ThreatListMatcher.to_ipc``/``from_ipc``, the key
naming the lists' content (``matcher_key``), and ``Intel.matcher`` reading and saving them."""

from __future__ import annotations

import random
from dataclasses import replace

import polars as pl
import pytest

from keibi.intel import Intel, IntelList, ThreatListMatcher
from keibi.intel.match import matcher_key


class DictCache:
    """A ``MatcherCache`` in memory that counts what it is asked."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.reads = 0
        self.writes = 0

    def cached_matcher(self, key: str) -> bytes | None:
        self.reads += 1
        return self.blobs.get(key)

    def cache_matcher(self, key: str, blob: bytes) -> None:
        self.writes += 1
        self.blobs[key] = blob


def _lists(seed: int = 7) -> list[IntelList]:
    rng = random.Random(seed)
    v4 = [f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.0/24" for _ in range(300)]
    v4 += [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        for _ in range(300)
    ]
    v6 = [f"2001:db8:{rng.randrange(65536):x}::/48" for _ in range(50)]
    domains = [f"host{rng.randrange(10**6)}.example{rng.randrange(50)}.net" for _ in range(300)]
    first = replace(IntelList.from_entries("first", v4[:400] + domains[:150]), version="v1")
    second = replace(IntelList.from_entries("second", v4[300:] + v6 + domains[100:]), version="v9")
    return [first, second]


def _probe(lists: list[IntelList]) -> tuple[pl.Series, pl.Series]:
    rng = random.Random(3)
    ips = [
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(256)}"
        for _ in range(2000)
    ]
    for lst in lists:  # addresses inside listed networks, and the listed domains' subdomains
        ips += [
            f"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{(v & 255) | 7}" for v in lst.ipv4["net"].to_list()
        ]
    ips += ["2001:db8:1::1", "2001:db8:ffff::5", "::1"]
    domains = [f"a.{d}" for lst in lists for d in lst.domains["domain"].to_list()] + ["example1.net", "x.org"]
    return pl.Series(ips), pl.Series(domains)


def test_tables_read_back_match_exactly_as_built() -> None:
    lists = _lists()
    built = ThreatListMatcher.build(lists)
    again = ThreatListMatcher.from_ipc(built.to_ipc(), lists)
    ips, domains = _probe(lists)
    assert again.match_ips(ips).to_list() == built.match_ips(ips).to_list()
    assert again.match_domains(domains).to_list() == built.match_domains(domains).to_list()
    assert again.match_ips(ips).drop_nulls().len() > 300  # the probe does hit the lists
    assert again.match_domains(domains).drop_nulls().len() >= 300


def test_tables_keyed_on_names_read_back() -> None:
    lists = _lists()
    built = ThreatListMatcher.build(lists)
    named = replace(
        built, domains=replace(built.domains, key=built.domains.domain)
    )  # as after a hash collision
    named = replace(named, domains=replace(named.domains, key=named.domains.key.sort()))
    again = ThreatListMatcher.from_ipc(named.to_ipc(), lists)
    assert not again.domains.hashed
    assert again.domains.key.to_list() == named.domains.key.to_list()


@pytest.mark.parametrize("blob", [b"", b"not arrow at all", b"ARROW1\x00\x00garbage"])
def test_a_blob_that_is_not_match_tables_is_refused(blob: bytes) -> None:
    with pytest.raises(ValueError, match="not a match table file"):
        ThreatListMatcher.from_ipc(blob, _lists())


def test_tables_of_other_lists_are_refused() -> None:
    lists = _lists()
    blob = ThreatListMatcher.build(lists).to_ipc()
    with pytest.raises(ValueError, match="of lists"):
        ThreatListMatcher.from_ipc(blob, list(reversed(lists)))


def test_the_key_names_the_content_and_the_order() -> None:
    first, second = _lists()
    assert matcher_key([first, second]) == matcher_key([first, second])
    assert matcher_key([first, second]) != matcher_key([second, first])
    assert matcher_key([first, replace(second, version="v10")]) != matcher_key([first, second])
    assert matcher_key([first, replace(second, version=None)]) is None


def test_intel_reads_tables_an_earlier_run_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    lists, cache = _lists(), DictCache()
    Intel(threat=lists).matcher(lists, cache=cache, min_entries=1)
    assert (cache.reads, cache.writes) == (1, 1)

    def no_build(_lists: object) -> ThreatListMatcher:
        raise AssertionError("built again although the cache holds the tables")

    monkeypatch.setattr(ThreatListMatcher, "build", staticmethod(no_build))
    matcher = Intel(threat=lists).matcher(lists, cache=cache, min_entries=1)
    assert (cache.reads, cache.writes) == (2, 1)
    ips, _ = _probe(lists)
    assert matcher.match_ips(ips).drop_nulls().len() > 300


def test_a_damaged_entry_is_built_again_and_replaced() -> None:
    lists, cache = _lists(), DictCache()
    key = matcher_key(lists)
    assert key is not None
    cache.blobs[key] = b"damaged"
    Intel(threat=lists).matcher(lists, cache=cache, min_entries=1)
    assert cache.writes == 1
    assert ThreatListMatcher.from_ipc(cache.blobs[key], lists).lists == tuple(lists)


def test_small_or_unversioned_lists_are_not_cached() -> None:
    lists, cache = _lists(), DictCache()
    Intel(threat=lists).matcher(lists, cache=cache)  # far below CACHE_MIN_ENTRIES
    unversioned = [replace(lst, version=None) for lst in lists]
    Intel(threat=unversioned).matcher(unversioned, cache=cache, min_entries=1)
    assert (cache.reads, cache.writes) == (0, 0)


def test_prepare_builds_every_list_set_once() -> None:
    lists, cache = _lists(), DictCache()
    intel = Intel(threat=lists[:1], trusted=lists[1:])
    intel.prepare(cache=cache, min_entries=1)
    assert cache.writes == 2  # trusted and threat; the feed set is empty, below any minimum
    intel.matcher(intel.threat, cache=cache, min_entries=1)
    assert cache.writes == 2 and cache.reads == 2
