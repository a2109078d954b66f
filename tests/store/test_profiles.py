"""Behaviour profiles in the store: exact round trip, only changed rows written, pruned rows deleted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from polars.testing import assert_frame_equal

from keibi.detect.behavior.profile import KEY, empty, fold
from keibi.store import Store

T0 = datetime(2026, 10, 1, tzinfo=UTC)
KEEP = {"retention": timedelta(days=30), "max_values": 500}


def _calls(principal: str, apis: list[str], day: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "principal": [principal] * len(apis),
            "api": apis,
            "event_time": [T0 + timedelta(days=day, minutes=i) for i in range(len(apis))],
        }
    )


def _fold(profile: pl.DataFrame, frame: pl.DataFrame) -> pl.DataFrame:
    return fold(profile, frame, entity=pl.col("principal"), features={"api": pl.col("api")}, **KEEP)  # type: ignore[arg-type]


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(list(KEY))


def test_round_trip_and_incremental_saves(store: Store) -> None:
    first = _fold(empty(), _calls("alice", ["ListUsers", "GetUser", "CreateUser"], 0))
    assert store.save_profile("behavior.test", first, None) == first.height
    loaded = store.profiles()["behavior.test"]
    assert_frame_equal(_sorted(loaded), _sorted(first))

    # A later scan: one value seen again, one new one; only those rows (and the entity row) change.
    second = _fold(loaded, _calls("alice", ["GetUser", "DeleteTrail"], 5))
    assert store.save_profile("behavior.test", second, loaded) == 3
    assert_frame_equal(_sorted(store.profiles("behavior.test")["behavior.test"]), _sorted(second))

    # Retention drops what was not seen for 30 days; the store deletes those rows too.
    third = _fold(second, _calls("alice", ["GetUser"], 40))
    assert third.filter(pl.col("value") == "ListUsers").is_empty()
    store.save_profile("behavior.test", third, second)
    assert_frame_equal(_sorted(store.profiles()["behavior.test"]), _sorted(third))


def test_profiles_are_kept_per_detector_and_can_be_read_per_entity(store: Store) -> None:
    store.save_profile("behavior.a", _fold(empty(), _calls("alice", ["ListUsers"], 0)), None)
    store.save_profile("behavior.b", _fold(empty(), _calls("bob", ["GetObject"], 0)), None)
    assert sorted(store.profiles()) == ["behavior.a", "behavior.b"]
    only_bob = store.profiles(entity="bob")
    assert list(only_bob) == ["behavior.b"] and set(only_bob["behavior.b"]["entity"]) == {"bob"}
    assert (
        store.save_profile("behavior.a", store.profiles()["behavior.a"], store.profiles()["behavior.a"]) == 0
    )
