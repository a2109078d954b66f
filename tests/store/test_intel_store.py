"""Stored threat and trusted lists: definitions, versions (current and previous kept), loading
back as matchable lists, refresh bookkeeping; on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from keibi.errors import ConfigError, InputError
from keibi.intel import Intel, IntelList
from keibi.intel.catalogue import FEEDS
from keibi.intel.fetch import Fetched
from keibi.intel.lists import parse_list
from keibi.store import AWS_RANGES_LIST, IntelListRecord, IntelListSpec, Store
from keibi.store.intel_lists import DEFAULT_REFRESH_MINUTES, RETRY_MINUTES

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
URL = "https://lists.example.org/bad.txt"


def _fetched(data: bytes, etag: str | None = '"e1"', modified: str | None = None) -> Fetched:
    return Fetched(data, etag, modified, hashlib.sha256(data).hexdigest(), URL)


def _parsed(data: bytes, name: str = "bad", fmt: str = "TXT") -> IntelList:
    return parse_list(data, fmt, where=URL, name=name)


def _spec(name: str = "bad", **changes: object) -> IntelListSpec:
    return replace(IntelListSpec(name, "threat", "TXT", URL), **changes)  # type: ignore[arg-type]


def test_a_list_is_added_read_back_and_removed(store: Store) -> None:
    store.add_intel_list(_spec(), at=NOW)
    store.add_intel_list(_spec("good", kind="trusted", refresh_minutes=30), at=NOW + timedelta(seconds=1))
    bad = store.intel_list("bad")
    assert bad == IntelListRecord(
        name="bad", kind="threat", format="TXT", location=URL, category="custom", added_at=NOW
    )
    assert bad.next_refresh == NOW  # never fetched: due at once
    assert bad.refresh_period == timedelta(minutes=DEFAULT_REFRESH_MINUTES)
    assert [r.name for r in store.intel_lists()] == ["bad", "good"]
    assert store.intel_list("good").refresh_period == timedelta(minutes=30)  # type: ignore[union-attr]
    assert store.intel_list("nope") is None
    assert store.remove_intel_list("bad") is True
    assert store.remove_intel_list("bad") is False
    assert [r.name for r in store.intel_lists()] == ["good"]


def test_a_duplicate_name_is_refused(store: Store) -> None:
    store.add_intel_list(_spec())
    with pytest.raises(ConfigError, match=r"an intel list named 'bad' already exists"):
        store.add_intel_list(_spec(location="s3://bucket/other.txt"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"format": "CSV"}, r"intel list 'bad': unknown format 'CSV'"),
        ({"category": "Spam"}, r"unknown category 'Spam'"),
        ({"kind": "trusted", "category": "Tor"}, r"a trusted list has no threat category"),
        ({"kind": "evil"}, r"kind must be threat or trusted"),
        ({"location": "ftp://example.org/x"}, r"cannot fetch 'ftp://example.org/x'"),
        ({"location": "  "}, r"cannot fetch ''"),
        ({"feed": "no-such-feed"}, r"no feed named 'no-such-feed'"),
        ({"refresh_minutes": 0}, r"refresh_minutes must be at least 1"),
        ({"name": "has space"}, r"a list name is 1 to 128 printable characters"),
        ({"name": AWS_RANGES_LIST}, r"'aws-ip-ranges' is reserved"),
        ({"format": "AWS_IP_RANGES"}, r"is reserved for AWS's ip-ranges.json"),
    ],
)
def test_a_bad_definition_is_refused(store: Store, changes: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        store.add_intel_list(_spec(**changes))
    assert store.intel_lists() == []


def test_a_relative_path_is_stored_absolute(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store.add_intel_list(_spec(location="lists/bad.txt"))
    assert store.intel_list("bad").location == str(tmp_path / "lists" / "bad.txt")  # type: ignore[union-attr]


def test_a_feed_and_aws_ranges_have_their_own_specs(store: Store) -> None:
    store.add_intel_list(IntelListSpec.for_feed(FEEDS["feodo-c2"]))
    store.add_intel_list(IntelListSpec.aws_ranges("https://mirror.example.org/ip-ranges.json"))
    feodo, aws = store.intel_lists()
    assert (feodo.name, feodo.category, feodo.feed, feodo.location) == (
        "feodo-c2",
        "CommandAndControl",
        "feodo-c2",
        FEEDS["feodo-c2"].url,
    )
    assert feodo.refresh_period == timedelta(minutes=FEEDS["feodo-c2"].refresh_minutes)
    assert (aws.name, aws.kind, aws.format) == (AWS_RANGES_LIST, "aws", "AWS_IP_RANGES")


def test_a_saved_version_loads_back_as_the_same_tables(store: Store) -> None:
    data = b"# bad\n203.0.113.9\n198.51.100.0/24\n2001:db8::/32\nevil.example\nnot an entry\n"
    store.add_intel_list(_spec(category="Malicious"))
    parsed = _parsed(data)
    version = store.save_intel_version(
        "bad", parsed, _fetched(data, modified="Mon, 23 Nov 2026 10:00:00 GMT"), NOW
    )
    assert version == hashlib.sha256(data).hexdigest()[:12]
    (loaded,) = store.active_intel_lists()
    assert (loaded.name, loaded.kind, loaded.category, loaded.version, loaded.source) == (
        "bad",
        "threat",
        "Malicious",
        version,
        URL,
    )
    for table in ("ipv4", "ipv6", "domains"):
        assert_frame_equal(getattr(loaded, table), getattr(parsed, table))
    assert [str(p) for p in loaded.problems] == [str(InputError(URL, 6, parsed.problems[0].reason))]
    assert [str(p) for p in parsed.problems] == [f"{URL}:6: not an IP, CIDR or domain: 'not an entry'"]
    record = store.intel_list("bad")
    assert record is not None
    assert (record.version, record.entries, record.problems, record.etag, record.fetched_at) == (
        version,
        4,
        1,
        '"e1"',
        NOW,
    )
    assert record.last_modified == "Mon, 23 Nov 2026 10:00:00 GMT"
    assert record.next_refresh == NOW + timedelta(minutes=DEFAULT_REFRESH_MINUTES)
    hit = Intel(feeds=[loaded]).lookup(pl.Series(["198.51.100.7", "a.evil.example"]), kind="ip", prefix="r")
    assert hit["r_feed"].to_list() == ["bad", None]


def test_the_current_and_previous_versions_are_kept(store: Store) -> None:
    store.add_intel_list(_spec())
    contents = [b"192.0.2.1\n", b"192.0.2.2\n", b"192.0.2.3\n"]
    versions = [
        store.save_intel_version("bad", _parsed(c), _fetched(c), NOW + timedelta(hours=i))
        for i, c in enumerate(contents)
    ]
    record = store.intel_list("bad")
    assert record is not None
    assert (record.version, record.previous_version) == (versions[2], versions[1])
    assert store.load_intel_list("bad", versions[0]) is None  # older ones go
    previous = store.load_intel_list("bad", versions[1])
    assert previous is not None and previous.version == versions[1]
    assert previous.ipv4.height == 1
    assert store.load_intel_list("bad").version == versions[2]  # type: ignore[union-attr]
    # Content going back to an earlier version is that version again, now current.
    again = store.save_intel_version(
        "bad", _parsed(contents[1]), _fetched(contents[1]), NOW + timedelta(hours=5)
    )
    assert again == versions[1]
    record = store.intel_list("bad")
    assert (record.version, record.previous_version) == (versions[1], versions[2])  # type: ignore[union-attr]


def test_inactive_and_never_fetched_lists_are_not_loaded(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.add_intel_list(_spec(name))
    for name in ("a", "b"):
        store.save_intel_version(name, _parsed(b"192.0.2.1\n", name), _fetched(b"192.0.2.1\n"), NOW)
    assert store.set_intel_list_active("b", False) is True
    assert store.set_intel_list_active("nope", False) is False
    assert [lst.name for lst in store.active_intel_lists()] == ["a"]
    b = store.intel_list("b")
    assert b is not None and not b.active and b.next_refresh is None
    assert store.set_intel_list_active("b", True)
    assert [lst.name for lst in store.active_intel_lists()] == ["a", "b"]


def test_checks_record_fetch_state_and_errors(store: Store) -> None:
    store.add_intel_list(_spec(refresh_minutes=360), at=NOW)
    data = b"192.0.2.1\n"
    version = store.save_intel_version("bad", _parsed(data), _fetched(data), NOW)
    later = NOW + timedelta(hours=7)
    store.record_intel_check(
        "bad", later, error="https://lists.example.org/bad.txt: HTTP 503 Service Unavailable"
    )
    failed = store.intel_list("bad")
    assert failed is not None
    assert (failed.version, failed.fetched_at, failed.checked_at) == (version, NOW, later)
    assert failed.last_error == "https://lists.example.org/bad.txt: HTTP 503 Service Unavailable"
    assert failed.next_refresh == later + timedelta(minutes=RETRY_MINUTES)
    store.record_intel_check(
        "bad", later + timedelta(hours=1), fetched=Fetched(None, '"e2"', None, None, URL)
    )
    ok = store.intel_list("bad")
    assert ok is not None
    assert (ok.last_error, ok.etag, ok.fetched_at, ok.version) == (
        None,
        '"e2"',
        later + timedelta(hours=1),
        version,
    )
    assert ok.next_refresh == later + timedelta(hours=7)


def test_removing_a_list_removes_its_versions(store: Store) -> None:
    store.add_intel_list(_spec())
    store.save_intel_version("bad", _parsed(b"192.0.2.1\n"), _fetched(b"192.0.2.1\n"), NOW)
    store.remove_intel_list("bad")
    store.add_intel_list(_spec())
    assert store.active_intel_lists() == []
    assert store.intel_list("bad").version is None  # type: ignore[union-attr]


def test_saving_for_an_unknown_list_is_refused(store: Store) -> None:
    with pytest.raises(ConfigError, match=r"no intel list named 'ghost'"):
        store.save_intel_version("ghost", _parsed(b"192.0.2.1\n"), _fetched(b"192.0.2.1\n"), NOW)


def test_aws_ranges_are_kept_as_their_document(store: Store) -> None:
    store.add_intel_list(IntelListSpec.aws_ranges())
    doc = b'{"syncToken": "1", "createDate": "2026-11-24-00-00-00", "prefixes": []}'
    store.save_intel_document(AWS_RANGES_LIST, _fetched(doc), 0, NOW)
    assert store.intel_document(AWS_RANGES_LIST) == doc
    assert store.active_intel_lists() == []  # not a threat list
    assert store.intel_document("nope") is None


def test_five_million_entries_load_back_well_under_a_second(store: Store) -> None:
    n = 5_000_000
    big = IntelList(
        name="big",
        ipv4=pl.DataFrame(
            {
                "net": (pl.int_range(0, n, eager=True) * 797).cast(pl.UInt32),
                "prefix_len": pl.repeat(32, n, eager=True, dtype=pl.UInt8),
            }
        ),
    )
    store.add_intel_list(_spec("big"))
    store.save_intel_version("big", big, _fetched(b"big-content"), NOW)
    (loaded,) = store.active_intel_lists()
    assert loaded.ipv4.height == n
    assert_frame_equal(loaded.ipv4, big.ipv4)
