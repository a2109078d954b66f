"""The profile core: folding is order- and split-independent, novelty is on event time, size is bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keibi.detect.behavior.profile import (
    ENTITY,
    KEY,
    baseline_amounts,
    empty,
    entities,
    established,
    fold,
    fold_amounts,
    frequency,
    is_new,
    recall,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
KEEP = {"retention": timedelta(days=90), "max_values": 500}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def calls(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    """(principal, api, hours after T0) records."""
    return pl.DataFrame(
        {
            "principal": [r[0] for r in rows],
            "api": [r[1] for r in rows],
            "event_time": [at(r[2]) for r in rows],
        },
        schema={"principal": pl.String, "api": pl.String, "event_time": pl.Datetime("us", "UTC")},
    )


def folded(frames: list[pl.DataFrame], **keep: object) -> pl.DataFrame:
    profile = empty()
    for frame in frames:
        profile = fold(
            profile, frame, entity=pl.col("principal"), features={"api": pl.col("api")}, **{**KEEP, **keep}
        )
    return profile.sort(list(KEY))


def test_fold_counts_first_last_and_days() -> None:
    profile = folded(
        [calls([("alice", "ListUsers", 1), ("alice", "ListUsers", 30), ("alice", "GetUser", 2)])]
    )
    row = profile.filter((pl.col("feature") == "api") & (pl.col("value") == "ListUsers")).row(0, named=True)
    assert (row["first_seen"], row["last_seen"], row["count"], row["days"]) == (at(1), at(30), 2, 2)
    alice = profile.filter(pl.col("feature") == ENTITY).row(0, named=True)
    assert (alice["first_seen"], alice["count"], alice["days"]) == (at(1), 3, 2)


def test_any_split_into_batches_gives_the_same_profile() -> None:
    rows = [("alice", f"Api{i % 7}", i * 3.5) for i in range(60)] + [
        ("bob", "ListUsers", i * 11.0) for i in range(9)
    ]
    whole = folded([calls(rows)])
    for cut in (1, 13, 30, 59):
        assert_frame_equal(folded([calls(rows[:cut]), calls(rows[cut:])]), whole)


def test_novelty_is_decided_by_the_events_window_not_the_batch() -> None:
    """The first call's window: new in whichever batch a call of it arrives; later windows: known."""
    first, same_hour, next_day = (
        [("alice", "CreateUser", 10.1)],
        [("alice", "CreateUser", 10.9)],
        [("alice", "CreateUser", 34.0)],
    )
    one = folded([calls(first + same_hour + next_day)])
    two = folded([calls(first), calls(same_hour + next_day)])
    for profile in (one, two):
        looked = recall(
            calls(first + same_hour + next_day),
            profile,
            entity="principal",
            feature="api",
            value="api",
            prefix="api",
        )
        assert looked.select(is_new("api_first_seen", HOUR))["api_first_seen"].to_list() == [
            True,
            True,
            False,
        ]


def test_unknown_values_are_new_and_entities_learn_before_they_count() -> None:
    profile = folded([calls([("alice", "ListUsers", 0.0), ("alice", "ListUsers", 24 * 8)])])
    probe = calls([("alice", "DeleteTrail", 24 * 8), ("carol", "ListUsers", 24 * 8)])
    looked = recall(probe, profile, entity="principal", feature="api", value="api", prefix="api")
    looked = recall(looked, profile, entity="principal", feature=ENTITY, value=None, prefix="since")
    out = looked.select(
        new=is_new("api_first_seen", HOUR),
        ready=established("since_first_seen", timedelta(days=7), HOUR),
    )
    assert out["new"].to_list() == [True, True]
    assert out["ready"].to_list() == [True, False]


def test_frequency_words() -> None:
    frame = pl.DataFrame(
        {"days": [0, 1, 3, 20, None], "since": [T0] * 5, "event_time": [at(24 * 30)] * 5},
        schema={"days": pl.UInt32, "since": pl.Datetime("us", "UTC"), "event_time": pl.Datetime("us", "UTC")},
    )
    assert frame.select(frequency("days", "since").alias("word"))["word"].to_list() == [
        "UNSEEN",
        "RARE",
        "INFREQUENT",
        "FREQUENT",
        "UNSEEN",
    ]


def test_size_is_bounded_by_retention_and_max_values() -> None:
    """A principal calling a new API every hour for 200 days keeps at most max_values of them,
    and nothing older than the retention."""
    rows = [("bot", f"Api{i}", float(i * 24)) for i in range(200)]
    profile = folded([calls(rows[i : i + 10]) for i in range(0, 200, 10)], max_values=50)
    apis = profile.filter(pl.col("feature") == "api")
    assert apis.height == 50
    assert apis["last_seen"].min() == at(150 * 24)
    assert entities(profile) == 1
    short = folded([calls(rows)], retention=timedelta(days=30))
    assert short.filter(pl.col("feature") == "api")["last_seen"].min() >= at(199 * 24) - timedelta(days=30)


def test_baseline_amounts_sees_only_earlier_windows_whatever_the_split() -> None:
    def amounts(hours: list[int], values: list[float]) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "entity": ["i-1"] * len(hours),
                "feature": ["bytes"] * len(hours),
                "value": ["203.0.113.9"] * len(hours),
                "window": [at(h) for h in hours],
                "amount": values,
            }
        )

    hours, values = [0, 1, 2, 3], [5.0, 50.0, 7.0, 900.0]
    whole = baseline_amounts(amounts(hours, values), empty())
    assert whole["base_peak"].to_list() == [None, 5.0, 50.0, 50.0]
    assert whole["base_windows"].to_list() == [None, 1, 2, 3]
    profile = fold_amounts(empty(), amounts(hours[:2], values[:2]), **KEEP)  # type: ignore[arg-type]
    rest = baseline_amounts(amounts(hours[2:], values[2:]), profile)
    assert rest["base_peak"].to_list() == [50.0, 50.0]
    assert rest["base_windows"].to_list() == [2, 3]
    assert rest["base_total"].to_list() == pytest.approx([55.0, 62.0])
    assert rest["base_since"].to_list() == [at(0), at(0)]
