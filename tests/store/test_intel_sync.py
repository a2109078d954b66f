"""refresh(): catalogue feeds and user lists fetched from a local HTTP server (fixture copies
of the real feeds), a local file and S3 (moto), into SQLite and PostgreSQL: schedule,
conditional requests, new versions, failures that keep the previous version, AWS ranges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.errors import ConfigError
from keibi.intel import Intel
from keibi.intel.catalogue import FEEDS
from keibi.intel.fetch import Fetched, fetch
from keibi.store import AWS_RANGES_LIST, IntelListSpec, Store
from keibi.store.intel_lists import AWS_IP_RANGES_URL, RETRY_MINUTES
from keibi.store.intel_sync import RefreshResult, aws_ranges, refresh
from tests.intel._http import FeedServer, Route, feed_server

FIXTURES = Path(__file__).resolve().parents[1] / "intel" / "fixtures"
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def _serve_feed(server: FeedServer, store: Store, name: str, *, etag: str = '"1"') -> None:
    """Serve the feed's fixture copy and enable the feed, pointed at the local server."""
    server.routes[f"/{name}"] = Route((FIXTURES / f"{name}.txt").read_bytes(), etag=etag)
    added = NOW + timedelta(seconds=len(store.intel_lists()))  # keeps the order lists were enabled in
    store.add_intel_list(
        replace(IntelListSpec.for_feed(FEEDS[name]), location=server.url(f"/{name}")), at=added
    )


def _statuses(results: list[RefreshResult]) -> dict[str, str]:
    return {r.name: r.status for r in results}


def _lists_only(results: list[RefreshResult]) -> list[RefreshResult]:
    """An unnamed refresh also tries AWS's ranges, which ``_no_aws`` keeps offline."""
    aws = [r for r in results if r.name == AWS_RANGES_LIST]
    assert [(r.status, r.error) for r in aws] == [("failed", f"{AWS_IP_RANGES_URL}: offline in tests")]
    return [r for r in results if r.name != AWS_RANGES_LIST]


def test_enabled_feeds_are_fetched_parsed_and_matched(server: FeedServer, store: Store) -> None:
    for name in ("tor-exits", "feodo-c2", "urlhaus-hosts", "spamhaus-drop"):
        _serve_feed(server, store, name)
    results = refresh(store, ["tor-exits", "feodo-c2", "urlhaus-hosts", "spamhaus-drop"], now=NOW)
    assert _statuses(results) == dict.fromkeys(
        ["tor-exits", "feodo-c2", "urlhaus-hosts", "spamhaus-drop"], "updated"
    )
    assert [r.entries for r in results] == [4, 4, 3, 3]
    assert all(r.error is None and r.problems == () for r in results)
    assert results[0].next_refresh == NOW + timedelta(minutes=FEEDS["tor-exits"].refresh_minutes)
    lists = store.active_intel_lists()
    assert [(lst.name, lst.category) for lst in lists] == [
        ("tor-exits", "Tor"),
        ("feodo-c2", "CommandAndControl"),
        ("urlhaus-hosts", "MalwareDistribution"),
        ("spamhaus-drop", "Malicious"),
    ]
    assert [lst.version for lst in lists] == [r.version for r in results]
    intel = Intel(feeds=lists)
    ips = intel.lookup(
        pl.Series(["192.0.2.10", "198.51.100.18", "203.0.113.60", "8.8.8.8"]), kind="ip", prefix="r"
    )
    assert ips["r_feed"].to_list() == ["tor-exits", "feodo-c2", "spamhaus-drop", None]
    hosts = intel.lookup(pl.Series(["cdn.free-invoices.example"]), kind="domain", prefix="r")
    assert hosts["r_feed_category"].to_list() == ["MalwareDistribution"]


def test_schedule_and_conditional_requests(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "feodo-c2", etag='"v1"')
    (first,) = _lists_only(refresh(store, now=NOW, fetcher=_no_aws(fetch)))
    assert first.status == "updated"
    seen = len(server.requests)
    # Not due yet: nothing is fetched.
    (early,) = refresh(store, ["feodo-c2"], now=NOW + timedelta(minutes=59))
    assert (early.status, early.version, early.next_refresh) == ("not-due", first.version, first.next_refresh)
    assert len(server.requests) == seen
    # Due: asked with the stored ETag, answered 304.
    due = NOW + timedelta(minutes=60)
    (again,) = refresh(store, ["feodo-c2"], now=due)
    assert (again.status, again.version) == ("unchanged", first.version)
    assert server.requests[-1].headers["if-none-match"] == '"v1"'
    record = store.intel_list("feodo-c2")
    assert record is not None and record.fetched_at == due
    assert record.next_refresh == due + timedelta(minutes=60)
    # Forced: fetched although not due.
    (forced,) = refresh(store, ["feodo-c2"], now=due + timedelta(minutes=1), force=True)
    assert forced.status == "unchanged"
    assert len(server.requests) == seen + 2


def test_new_content_becomes_a_new_version_and_the_old_one_is_kept(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "cins-army", etag='"a"')
    (first,) = refresh(store, ["cins-army"], now=NOW)
    server.routes["/cins-army"] = Route(b"192.0.2.33\n203.0.113.1\n", etag='"b"')
    (second,) = refresh(store, ["cins-army"], now=NOW + timedelta(days=1))
    assert (second.status, second.entries) == ("updated", 2)
    assert second.version != first.version
    record = store.intel_list("cins-army")
    assert record is not None
    assert (record.version, record.previous_version, record.etag) == (second.version, first.version, '"b"')
    old = store.load_intel_list("cins-army", first.version)
    assert old is not None and old.ipv4.height == 4


def test_same_content_under_a_new_etag_is_unchanged(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "et-compromised", etag='"a"')
    (first,) = refresh(store, ["et-compromised"], now=NOW)
    server.routes["/et-compromised"].etag = '"regenerated"'
    (second,) = refresh(store, ["et-compromised"], now=NOW, force=True)
    assert (second.status, second.version) == ("unchanged", first.version)
    assert store.intel_list("et-compromised").etag == '"regenerated"'  # type: ignore[union-attr]


def test_a_failed_fetch_keeps_the_previous_version(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "blocklist-de")
    (first,) = refresh(store, ["blocklist-de"], now=NOW)
    server.routes["/blocklist-de"] = Route(b"busy", status=503)
    later = NOW + timedelta(hours=3)
    (failed,) = refresh(store, ["blocklist-de"], now=later)
    url = server.url("/blocklist-de")
    assert failed == RefreshResult(
        "blocklist-de",
        "failed",
        first.version,
        4,
        error=f"{url}: HTTP 503 Service Unavailable",
        next_refresh=later + timedelta(minutes=RETRY_MINUTES),
    )
    record = store.intel_list("blocklist-de")
    assert record is not None and record.last_error == f"{url}: HTTP 503 Service Unavailable"
    assert [lst.version for lst in store.active_intel_lists()] == [first.version]
    # The next success clears the error.
    server.routes["/blocklist-de"] = Route((FIXTURES / "blocklist-de.txt").read_bytes())
    (ok,) = refresh(store, ["blocklist-de"], now=later + timedelta(minutes=RETRY_MINUTES))
    assert (ok.status, ok.error) == ("unchanged", None)
    assert store.intel_list("blocklist-de").last_error is None  # type: ignore[union-attr]


def test_an_error_page_served_as_200_never_replaces_a_good_version(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "tor-relays")
    (first,) = refresh(store, ["tor-relays"], now=NOW)
    page = (
        b"<html>\n<head><title>Rate limited</title></head>\n<body>Try again in 30 minutes</body>\n</html>\n"
    )
    server.routes["/tor-relays"] = Route(page, etag='"page"')
    (failed,) = refresh(store, ["tor-relays"], now=NOW, force=True)
    assert failed.status == "failed"
    assert failed.error is not None
    assert failed.error.startswith(f"{server.url('/tor-relays')}: no usable entry (first problem, line 1: ")
    assert failed.error.endswith("kept the current version")
    assert (failed.version, failed.entries) == (first.version, 8)


def test_bad_entries_are_skipped_and_reported(server: FeedServer, store: Store) -> None:
    server.routes["/mine.txt"] = Route(b"203.0.113.9\nnot-an-ip here\nevil.example\n")
    store.add_intel_list(IntelListSpec("mine", "threat", "TXT", server.url("/mine.txt")), at=NOW)
    (result,) = refresh(store, ["mine"], now=NOW)
    assert (result.status, result.entries) == ("updated", 2)
    assert [str(p) for p in result.problems] == [
        f"{server.url('/mine.txt')}:2: not an IP, CIDR or domain: 'not-an-ip here'"
    ]
    assert store.intel_list("mine").problems == 1  # type: ignore[union-attr]


def test_one_failing_list_does_not_stop_the_others(server: FeedServer, store: Store) -> None:
    store.add_intel_list(IntelListSpec("gone", "threat", "TXT", server.url("/gone.txt")), at=NOW)
    _serve_feed(server, store, "phishing-army")
    results = refresh(store, ["gone", "phishing-army"], now=NOW)
    assert _statuses(results) == {"gone": "failed", "phishing-army": "updated"}
    assert results[0].error == f"{server.url('/gone.txt')}: HTTP 404 Not Found"
    assert results[0].version is None


def test_limits_are_passed_to_the_fetch(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "openphish")
    (result,) = refresh(store, ["openphish"], now=NOW, max_bytes=100)
    assert result.status == "failed"
    assert result.error == f"{server.url('/openphish')}: larger than the limit of 100 bytes; not fetched"


def test_names_select_lists_active_or_not(server: FeedServer, store: Store) -> None:
    _serve_feed(server, store, "tor-exits")
    _serve_feed(server, store, "coinblocker")
    store.set_intel_list_active("coinblocker", False)
    assert _statuses(_lists_only(refresh(store, now=NOW, fetcher=_no_aws(fetch)))) == {"tor-exits": "updated"}
    assert _statuses(refresh(store, ["coinblocker"], now=NOW)) == {"coinblocker": "updated"}
    with pytest.raises(ConfigError, match=r"no intel list named 'nope'"):
        refresh(store, ["tor-exits", "nope"], now=NOW)


def test_a_local_file_list_is_refreshed(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "trusted.txt"
    path.write_text("10.20.0.0/16\nscanner.corp.example\n")
    store.add_intel_list(IntelListSpec("corp", "trusted", "TXT", str(path)), at=NOW)
    (first,) = refresh(store, ["corp"], now=NOW)
    assert (first.status, first.entries) == ("updated", 2)
    (same,) = refresh(store, ["corp"], now=NOW, force=True)
    assert same.status == "unchanged"
    path.write_text("10.20.0.0/16\n")
    (edited,) = refresh(store, ["corp"], now=NOW, force=True)
    assert (edited.status, edited.entries) == ("updated", 1)
    (loaded,) = store.active_intel_lists()
    assert (loaded.kind, loaded.version) == ("trusted", edited.version)


def test_an_s3_list_is_refreshed(store: Store, s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    client.put_object(Bucket=bucket, Key="intel/otx.csv", Body=b"203.0.113.9\n198.51.100.0/24\n")
    store.add_intel_list(IntelListSpec("s3list", "threat", "TXT", f"s3://{bucket}/intel/otx.csv"), at=NOW)
    (first,) = refresh(store, ["s3list"], now=NOW)
    assert (first.status, first.entries) == ("updated", 2)
    assert store.intel_list("s3list").etag is not None  # type: ignore[union-attr]
    (again,) = refresh(store, ["s3list"], now=NOW, force=True)
    assert again.status == "unchanged"


# -- AWS ip-ranges.json -----------------------------------------------------------------------


def _no_aws(inner: Any) -> Any:
    """A fetcher that refuses AWS's URL, so unnamed refreshes never leave the machine."""

    def fetcher(location: str, **kwargs: Any) -> Fetched:
        if location == AWS_IP_RANGES_URL:
            raise ConfigError("offline in tests", location)
        return inner(location, **kwargs)  # type: ignore[no-any-return]

    return fetcher


def test_aws_ranges_are_refreshed_into_the_store(server: FeedServer, store: Store) -> None:
    server.routes["/ip-ranges.json"] = Route((FIXTURES / "aws-ip-ranges.json").read_bytes(), gzip=True)

    def fetcher(location: str, **kwargs: Any) -> Fetched:
        assert location == AWS_IP_RANGES_URL  # an unnamed refresh adds AWS's own URL
        return fetch(server.url("/ip-ranges.json"), **kwargs)

    assert aws_ranges(store) is None
    (result,) = refresh(store, now=NOW, fetcher=fetcher)
    assert (result.name, result.status, result.entries) == (AWS_RANGES_LIST, "updated", 4)
    ranges = aws_ranges(store)
    assert ranges is not None
    assert (ranges.sync_token, ranges.create_date, ranges.source) == (
        "1795520000",
        "2026-11-24-09-13-20",
        AWS_IP_RANGES_URL,
    )
    found = Intel(aws_ranges=ranges).aws_lookup(
        pl.Series(["52.94.77.1", "2600:1f14::9", "192.0.2.1"]), prefix="r"
    )
    assert found["r_aws_service"].to_list() == ["EC2", "EC2", None]
    assert store.active_intel_lists() == []
    store.set_intel_list_active(AWS_RANGES_LIST, False)
    assert aws_ranges(store) is None


def test_a_bad_ranges_document_keeps_the_previous_one(server: FeedServer, store: Store) -> None:
    store.add_intel_list(IntelListSpec.aws_ranges(server.url("/ip-ranges.json")), at=NOW)
    server.routes["/ip-ranges.json"] = Route((FIXTURES / "aws-ip-ranges.json").read_bytes())
    (first,) = refresh(store, [AWS_RANGES_LIST], now=NOW)
    assert first.status == "updated"
    broken = json.loads((FIXTURES / "aws-ip-ranges.json").read_text())
    del broken["syncToken"]
    server.routes["/ip-ranges.json"] = Route(json.dumps(broken).encode())
    (failed,) = refresh(store, [AWS_RANGES_LIST], now=NOW, force=True)
    assert failed.status == "failed"
    assert failed.error == f"{server.url('/ip-ranges.json')}: not an AWS ip-ranges.json: no 'syncToken'"
    ranges = aws_ranges(store)
    assert ranges is not None and ranges.sync_token == "1795520000"
    server.routes["/ip-ranges.json"] = Route(b"<html>maintenance</html>")
    (garbage,) = refresh(store, [AWS_RANGES_LIST], now=NOW, force=True)
    assert garbage.error is not None and "not an AWS ip-ranges.json" in garbage.error


def test_naming_aws_ranges_creates_the_list(store: Store) -> None:
    calls: list[str] = []

    def fetcher(location: str, **kwargs: Any) -> Fetched:
        calls.append(location)
        raise ConfigError("HTTP 503 Service Unavailable", location)

    (result,) = refresh(store, [AWS_RANGES_LIST], now=NOW, fetcher=fetcher)
    assert calls == [AWS_IP_RANGES_URL]
    assert (result.status, result.error) == ("failed", f"{AWS_IP_RANGES_URL}: HTTP 503 Service Unavailable")
    assert aws_ranges(store) is None
