"""fetch(): local files, a real local HTTP server (conditional requests, gzip, limits, errors,
redirects) and S3 on moto's server; nothing here touches the internet."""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from collections.abc import Iterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from keibi.errors import ConfigError
from keibi.intel.fetch import Fetched, fetch, scheme_of
from tests.intel._http import FeedServer, Route, feed_server

LIST = b"# exits\n192.0.2.10\n198.51.100.23\n"
STAMP = "Mon, 23 Nov 2026 10:00:00 GMT"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- local files ------------------------------------------------------------------------------


def test_a_local_path_and_a_file_url_are_read(tmp_path: Path) -> None:
    path = tmp_path / "exits.txt"
    path.write_bytes(LIST)
    os.utime(path, (1_795_000_000, 1_795_000_000))
    for location in (str(path), path.as_uri()):
        got = fetch(location)
        assert got == Fetched(LIST, None, formatdate(1_795_000_000, usegmt=True), _sha(LIST), location)
        assert not got.not_modified


def test_a_gzipped_local_file_is_decompressed(tmp_path: Path) -> None:
    path = tmp_path / "exits.txt.gz"
    path.write_bytes(gzip.compress(LIST) + gzip.compress(b"203.0.113.5\n"))  # two members
    got = fetch(str(path))
    assert got.data == LIST + b"203.0.113.5\n"
    assert got.sha256 == _sha(LIST + b"203.0.113.5\n")


def test_a_missing_file_names_the_location(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.txt")
    with pytest.raises(ConfigError) as err:
        fetch(missing)
    assert str(err.value) == f"{missing}: cannot read: No such file or directory"


def test_a_local_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"192.0.2.1\n" * 200)
    with pytest.raises(ConfigError, match=r"larger than the limit of 1,000 bytes"):
        fetch(str(path), max_bytes=1000)
    bomb = tmp_path / "bomb.gz"  # small on disk, large once decompressed
    bomb.write_bytes(gzip.compress(b"0" * 100_000))
    assert bomb.stat().st_size < 1000
    with pytest.raises(ConfigError, match=r"larger than the limit of 1,000 bytes"):
        fetch(str(bomb), max_bytes=1000)


def test_corrupt_gzip_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.gz"
    path.write_bytes(gzip.compress(LIST)[:15])
    with pytest.raises(ConfigError, match=r"broken.gz: (truncated gzip data|not valid gzip data)"):
        fetch(str(path))


def test_a_remote_file_url_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"file:// URL must name a local file"):
        fetch("file://fileserver/share/list.txt")


@pytest.mark.parametrize("location", ["ftp://example.org/list.txt", "gopher://example.org/1", "data://x"])
def test_other_schemes_are_refused_in_one_line(location: str) -> None:
    with pytest.raises(ConfigError) as err:
        fetch(location)
    message = str(err.value)
    assert message.startswith(f"{location}: cannot fetch {location.split(':')[0]}:// locations")
    assert "\n" not in message


def test_scheme_of_treats_only_scheme_slashes_as_a_url() -> None:
    assert scheme_of("HTTPS://example.org/x") == "https"
    assert scheme_of("s3://bucket/key") == "s3"
    assert scheme_of("lists/c:2026.txt") == "file"
    assert scheme_of("/tmp/a://b") == "file"
    assert scheme_of("file:///tmp/x") == "file"


# -- HTTP -------------------------------------------------------------------------------------


def test_http_returns_the_body_and_validators(server: FeedServer) -> None:
    server.routes["/exits"] = Route(LIST, etag='"v1"', last_modified=STAMP)
    got = fetch(server.url("/exits"))
    assert got == Fetched(LIST, '"v1"', STAMP, _sha(LIST), server.url("/exits"))
    sent = server.requests[-1].headers
    assert sent["user-agent"].startswith("keibi/")
    assert sent["accept-encoding"] == "gzip"
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_a_matching_etag_gets_not_modified(server: FeedServer) -> None:
    server.routes["/exits"] = Route(LIST, etag='"v1"', last_modified=STAMP)
    got = fetch(server.url("/exits"), etag='"v1"', last_modified=STAMP)
    assert got.not_modified
    assert got == Fetched(None, '"v1"', STAMP, None, server.url("/exits"))
    assert server.requests[-1].headers["if-none-match"] == '"v1"'
    assert server.requests[-1].headers["if-modified-since"] == STAMP


def test_a_changed_etag_gets_the_new_content(server: FeedServer) -> None:
    server.routes["/exits"] = Route(LIST + b"203.0.113.9\n", etag='"v2"', last_modified=STAMP)
    got = fetch(server.url("/exits"), etag='"v1"')
    assert got.data == LIST + b"203.0.113.9\n"
    assert got.etag == '"v2"'


def test_last_modified_alone_gets_not_modified(server: FeedServer) -> None:
    server.routes["/drop"] = Route(LIST, last_modified=STAMP)
    assert fetch(server.url("/drop"), last_modified=STAMP).not_modified
    assert fetch(server.url("/drop"), last_modified="Sun, 01 Nov 2026 00:00:00 GMT").data == LIST


def test_gzip_content_encoding_is_undone(server: FeedServer) -> None:
    server.routes["/z"] = Route(LIST * 50, gzip=True)
    got = fetch(server.url("/z"))
    assert got.data == LIST * 50
    assert got.sha256 == _sha(LIST * 50)


def test_a_gzip_file_served_as_is_is_undone(server: FeedServer) -> None:
    server.routes["/list.txt.gz"] = Route(gzip.compress(LIST), headers={"Content-Type": "application/gzip"})
    assert fetch(server.url("/list.txt.gz")).data == LIST


def test_an_unknown_content_encoding_is_refused(server: FeedServer) -> None:
    server.routes["/br"] = Route(LIST, headers={"Content-Encoding": "br"})
    with pytest.raises(ConfigError, match=r"/br: unsupported Content-Encoding 'br'"):
        fetch(server.url("/br"))


@pytest.mark.parametrize(("status", "reason"), [(404, "Not Found"), (500, "Internal Server Error")])
def test_an_http_error_names_status_and_location(server: FeedServer, status: int, reason: str) -> None:
    server.routes["/bad"] = Route(b"oops", status=status)
    with pytest.raises(ConfigError) as err:
        fetch(server.url("/bad"))
    assert str(err.value) == f"{server.url('/bad')}: HTTP {status} {reason}"
    with pytest.raises(ConfigError, match=r"HTTP 404 Not Found"):
        fetch(server.url("/missing"))


def test_a_slow_server_times_out(server: FeedServer) -> None:
    server.routes["/slow"] = Route(LIST, delay=2.0)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"/slow: timed out after 0.3s"):
        fetch(server.url("/slow"), timeout=0.3)
    assert time.monotonic() - started < 1.5


def test_a_drip_feed_is_stopped_by_the_overall_timeout(server: FeedServer) -> None:
    # Each chunk comes within the socket timeout, but the whole download does not.
    server.routes["/drip"] = Route(LIST * 100, drip=0.15, drip_chunks=20)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=r"timed out after 0.5s"):
        fetch(server.url("/drip"), timeout=0.5)
    assert time.monotonic() - started < 2.0


def test_a_declared_size_over_the_limit_is_refused_before_reading(server: FeedServer) -> None:
    server.routes["/huge"] = Route(b"192.0.2.1\n" * 100_000)
    with pytest.raises(ConfigError) as err:
        fetch(server.url("/huge"), max_bytes=64_000)
    assert str(err.value) == f"{server.url('/huge')}: larger than the limit of 64,000 bytes; not fetched"


def test_an_undeclared_size_is_stopped_while_streaming(server: FeedServer) -> None:
    server.routes["/stream"] = Route(b"192.0.2.1\n" * 300_000, length=False)
    with pytest.raises(ConfigError, match=r"larger than the limit of 1,048,576 bytes"):
        fetch(server.url("/stream"), max_bytes=1 << 20)


def test_a_gzip_bomb_is_stopped_at_the_limit(server: FeedServer) -> None:
    server.routes["/bomb"] = Route(b"0" * 5_000_000, gzip=True)
    with pytest.raises(ConfigError, match=r"larger than the limit of 100,000 bytes"):
        fetch(server.url("/bomb"), max_bytes=100_000)


def test_redirects_to_http_are_followed(server: FeedServer) -> None:
    server.routes["/old"] = Route(status=301, location="/new")
    server.routes["/new"] = Route(LIST, etag='"n"')
    got = fetch(server.url("/old"))
    assert got.data == LIST
    assert got.location == server.url("/old")


def test_a_redirect_to_another_scheme_is_refused(server: FeedServer, tmp_path: Path) -> None:
    server.routes["/ftp"] = Route(status=302, location="ftp://192.0.2.1/list.txt")
    with pytest.raises(ConfigError) as err:
        fetch(server.url("/ftp"))
    assert str(err.value) == (
        f"{server.url('/ftp')}: refused a redirect to ftp://192.0.2.1/list.txt: only http(s) locations are fetched"
    )
    secret = tmp_path / "secret.txt"
    secret.write_text("192.0.2.1\n")
    server.routes["/file"] = Route(status=302, location=secret.as_uri())
    with pytest.raises(ConfigError, match=r"HTTP 302 .*file://.* is not allowed"):
        fetch(server.url("/file"))


def test_a_connection_refused_is_a_config_error(server: FeedServer) -> None:
    closed = server.base
    server.stop()
    with pytest.raises(ConfigError, match=r"cannot fetch: .*[Cc]onnection refused"):
        fetch(closed + "/x", timeout=2)


# -- S3 (moto server) ---------------------------------------------------------------------------


def test_s3_object_is_fetched_and_answers_conditionally(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    client.put_object(Bucket=bucket, Key="lists/exits.txt", Body=LIST)
    location = f"s3://{bucket}/lists/exits.txt"
    got = fetch(location)
    assert got.data == LIST and got.sha256 == _sha(LIST)
    assert got.etag == client.head_object(Bucket=bucket, Key="lists/exits.txt")["ETag"]
    assert got.last_modified is not None and got.last_modified.endswith(" GMT")
    assert fetch(location, etag=got.etag) == Fetched(None, got.etag, None, None, location)
    assert fetch(location, last_modified=got.last_modified).not_modified
    client.put_object(Bucket=bucket, Key="lists/exits.txt", Body=LIST + b"203.0.113.1\n")
    assert fetch(location, etag=got.etag).data == LIST + b"203.0.113.1\n"


def test_s3_gzipped_object_is_decompressed(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    client.put_object(Bucket=bucket, Key="drop.txt.gz", Body=gzip.compress(LIST))
    assert fetch(f"s3://{bucket}/drop.txt.gz").data == LIST


def test_s3_errors_name_the_location(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    with pytest.raises(ConfigError) as err:
        fetch(f"s3://{bucket}/missing.txt")
    assert (
        str(err.value)
        == f"s3://{bucket}/missing.txt: cannot fetch: NoSuchKey: The specified key does not exist."
    )
    with pytest.raises(ConfigError, match=r"one object: s3://bucket/key"):
        fetch(f"s3://{bucket}/")
    client.put_object(Bucket=bucket, Key="big.txt", Body=b"192.0.2.1\n" * 1000)
    with pytest.raises(ConfigError, match=r"larger than the limit of 5,000 bytes"):
        fetch(f"s3://{bucket}/big.txt", max_bytes=5000)
