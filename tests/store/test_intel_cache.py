"""Work derived from lists, kept in the store (``keibi.store.intel_cache``): entries come back
intact or not at all, the least recently used go, and a list file parsed once is read back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from keibi.intel import Intel, IntelList, ThreatListMatcher
from keibi.intel.match import matcher_key
from keibi.store import Store
from keibi.store import intel_cache as cache_module
from keibi.store.intel_cache import LIST_CACHE_MIN_BYTES, decode_list, encode_list, parsed_list
from keibi.store.tables import intel_cache

T0 = datetime(2026, 11, 1, tzinfo=UTC)


def test_an_entry_is_read_back_and_a_miss_is_none(store: Store) -> None:
    store.cache_intel("matcher", "k1", b"tables", at=T0)
    assert store.cached_intel("matcher", "k1") == b"tables"
    assert store.cached_intel("matcher", "k2") is None
    assert store.cached_intel("list", "k1") is None  # keys are per kind


def test_a_damaged_entry_is_a_miss_and_is_dropped(store: Store) -> None:
    store.cache_intel("matcher", "k1", b"tables", at=T0)
    with store.engine.begin() as conn:
        conn.execute(sa.update(intel_cache).values(blob=b"tablez"))
    assert store.cached_intel("matcher", "k1") is None
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(intel_cache)) == 0


def test_the_least_recently_used_entries_go(store: Store) -> None:
    for i in range(3):
        store.cache_intel("matcher", f"k{i}", b"x", at=T0 + timedelta(minutes=i), keep=3)
    assert store.cached_intel("matcher", "k0", at=T0 + timedelta(hours=1)) == b"x"  # k0 used last
    store.cache_intel("matcher", "k3", b"x", at=T0 + timedelta(hours=2), keep=2)
    kept = {k for k in ("k0", "k1", "k2", "k3") if store.cached_intel("matcher", k) is not None}
    assert kept == {"k0", "k3"}


def test_saving_a_key_again_replaces_it(store: Store) -> None:
    store.cache_intel("matcher", "k1", b"old", at=T0)
    store.cache_intel("matcher", "k1", b"new", at=T0)
    assert store.cached_intel("matcher", "k1") == b"new"


def test_the_store_keeps_built_match_tables(store: Store) -> None:
    lst = IntelList.from_entries(
        "big", [f"10.{i >> 8}.{i & 255}.0/24" for i in range(2000)] + ["evil.example"]
    )
    lst = replace(lst, version="abc")
    Intel(threat=[lst]).matcher([lst], cache=store, min_entries=1)
    key = matcher_key([lst])
    assert key is not None
    blob = store.cached_matcher(key)
    assert blob is not None
    assert len(ThreatListMatcher.from_ipc(blob, [lst]).v4) == 1  # 2000 adjacent /24s: one range


def _big_txt() -> bytes:
    lines = [
        "# a big feed",
        "not an address",
        *(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}" for i in range(90_000)),
    ]
    lines += [f"host{i}.bad.example" for i in range(5)] + ["2001:db8::/32"]
    data = "\n".join(lines).encode()
    assert len(data) >= LIST_CACHE_MIN_BYTES
    return data


def test_a_big_file_is_parsed_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    data = _big_txt()
    first = parsed_list(store, data, "TXT", where="/lists/a.txt", name="a", version="v1")
    assert first.ipv4.height == 90_000 and first.domains.height == 5 and first.ipv6.height == 1
    assert [p.line for p in first.problems] == [2]

    def no_parse(*_args: object, **_kwargs: object) -> IntelList:
        raise AssertionError("parsed again although the store holds the tables")

    monkeypatch.setattr(cache_module, "parse_list", no_parse)
    again = parsed_list(store, data, "txt", where="/lists/b.txt", name="b", kind="trusted", version="v1")
    assert (again.name, again.kind, again.source) == ("b", "trusted", "/lists/b.txt")
    for table in ("ipv4", "ipv6", "domains"):
        assert_frame_equal(getattr(again, table), getattr(first, table))
    assert [(p.path, p.line, p.reason) for p in again.problems] == [
        ("/lists/b.txt", 2, first.problems[0].reason)
    ]


def test_a_small_file_is_not_cached(store: Store) -> None:
    parsed_list(store, b"10.0.0.1\n", "TXT", where="small.txt", name="small")
    with store.engine.connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(intel_cache)) == 0


def test_a_parsed_list_blob_round_trips_and_garbage_is_refused() -> None:
    lst = IntelList.from_entries("x", ["10.0.0.0/8", "2001:db8::1", "*.evil.example"])
    back = decode_list(encode_list(lst), name="x", kind="threat", category="custom", where="x", version=None)
    for table in ("ipv4", "ipv6", "domains"):
        assert_frame_equal(getattr(back, table), getattr(lst, table))
    with pytest.raises(ValueError, match="not a parsed list file"):
        decode_list(b"garbage", name="x", kind="threat", category="custom", where="x", version=None)
