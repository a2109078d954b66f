"""Fetching a list's bytes from where it lives: a local file, an HTTP(S) URL or S3.

Lists and feeds are refreshed on a schedule, so each fetch passes back what the last one
saw (``etag``, ``last_modified``) and the server may answer "not modified" without a body:
HTTP's ``If-None-Match`` / ``If-Modified-Since`` (a ``304``), S3's ``IfNoneMatch`` /
``IfModifiedSince``. :attr:`Fetched.data` is then ``None``. A local file is always read (a
read costs less than keeping its state), and the caller compares :attr:`Fetched.sha256`.

Limits keep one bad feed from hurting a run: ``timeout`` bounds both each network wait and
the whole download, ``max_bytes`` stops a download (and a gzip expansion) past that size.
Gzip is undone, whether the server sent ``Content-Encoding: gzip`` or the file itself is
gzipped (``.gz`` on disk or in S3), so :attr:`Fetched.data` is always the list's own text.

Only ``file://``, local paths, ``http://``, ``https://`` and ``s3://`` are fetched; HTTP
redirects may only lead to ``http(s)://``. S3 uses ``boto3.client("s3")``, so credentials,
region and ``AWS_ENDPOINT_URL`` come from the environment (as for log locations,
``keibi.sources.locations``). Every failure is a ``ConfigError`` naming the location:

    >>> fetch("https://feodotracker.abuse.ch/downloads/ipblocklist.txt")   # doctest: +SKIP
    Fetched(data=b'# Feodo Tracker ...', etag='"6a1f..."', ...)
"""

from __future__ import annotations

import hashlib
import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

from keibi import __version__
from keibi.errors import ConfigError
from keibi.sources.locations import split_s3_uri

DEFAULT_TIMEOUT: Final = 30.0  # seconds
DEFAULT_MAX_BYTES: Final = 512 << 20  # 512 MiB: ~30 million IPv4 lines, far past any public feed
SCHEMES: Final = ("file", "http", "https", "s3")
USER_AGENT: Final = f"keibi/{__version__} (threat list refresh)"

_CHUNK: Final = 1 << 20
_GZIP_MAGIC: Final = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one fetch brought back. ``data`` is ``None`` when the source said "not modified";
    ``etag`` and ``last_modified`` are then the ones asked with (or the server's newer ones).
    ``sha256`` is the hex digest of ``data`` (after gzip is undone)."""

    data: bytes | None
    etag: str | None
    last_modified: str | None
    sha256: str | None
    location: str

    @property
    def not_modified(self) -> bool:
        return self.data is None


class Fetcher(Protocol):
    """The signature of :func:`fetch`, so orchestration can take a stand-in."""

    def __call__(
        self,
        location: str,
        *,
        etag: str | None = ...,
        last_modified: str | None = ...,
        timeout: float = ...,
        max_bytes: int = ...,
    ) -> Fetched: ...


def fetch(
    location: str,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Fetched:
    """The bytes at ``location`` (see the module docstring), or ``data=None`` when the source
    says they have not changed since ``etag`` / ``last_modified``."""
    scheme = scheme_of(location)
    if scheme not in SCHEMES:
        raise ConfigError(
            f"cannot fetch {scheme}:// locations: use a local path, file://, http://, https:// or s3://",
            location,
        )
    if scheme in ("http", "https"):
        return _fetch_http(location, etag, last_modified, timeout, max_bytes)
    if scheme == "s3":
        return _fetch_s3(location, etag, last_modified, timeout, max_bytes)
    return _fetch_file(location, max_bytes)


def scheme_of(location: str) -> str:
    """``"http"`` for ``http://…``; ``"file"`` for ``file://…`` and for plain paths (a path may
    hold a colon, so only ``scheme://`` counts as a URL)."""
    scheme, sep, _ = location.partition("://")
    if not sep or not scheme or not scheme.replace("+", "").replace("-", "").replace(".", "").isalnum():
        return "file"
    return scheme.lower()


def ungzipped(data: bytes, location: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """``data`` with gzip undone when it is gzip (every member), else ``data`` itself;
    ``ConfigError`` naming ``location`` for broken gzip or output past ``max_bytes``."""
    return _gunzip(data, max_bytes, location) if data.startswith(_GZIP_MAGIC) else data


def _done(location: str, raw: bytes, etag: str | None, last_modified: str | None, max_bytes: int) -> Fetched:
    data = ungzipped(raw, location, max_bytes)
    return Fetched(data, etag, last_modified, hashlib.sha256(data).hexdigest(), location)


def _too_big(location: str, max_bytes: int) -> ConfigError:
    return ConfigError(f"larger than the limit of {max_bytes:,} bytes; not fetched", location)


def _gunzip(data: bytes, max_bytes: int, location: str) -> bytes:
    """``data`` decompressed (every gzip member), refusing output past ``max_bytes``."""
    out = bytearray()
    rest = data
    try:
        while rest:
            unzip = zlib.decompressobj(wbits=31)
            out += unzip.decompress(rest, max_bytes + 1 - len(out))
            if len(out) > max_bytes:
                raise _too_big(location, max_bytes)
            if not unzip.eof:
                if unzip.unconsumed_tail:  # more output is waiting: past the limit
                    raise _too_big(location, max_bytes)
                raise ConfigError("truncated gzip data", location)
            rest = unzip.unused_data
    except zlib.error as exc:
        raise ConfigError(f"not valid gzip data: {exc}", location) from None
    return bytes(out)


def _read_limited(
    stream: BinaryIO | Any, max_bytes: int, deadline: float, timeout: float, location: str
) -> bytes:
    # read1 returns what one socket read brings, so the deadline is checked while a slow
    # server drips; read(n) on an HTTP response would wait for all n bytes.
    read = getattr(stream, "read1", stream.read)
    parts: list[bytes] = []
    total = 0
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            return b"".join(parts)
        total += len(chunk)
        if total > max_bytes:
            raise _too_big(location, max_bytes)
        if time.monotonic() > deadline:
            raise ConfigError(f"timed out after {timeout:g}s", location)
        parts.append(chunk)


# -- local files ------------------------------------------------------------------------------


def _fetch_file(location: str, max_bytes: int) -> Fetched:
    if location.startswith(("file://", "FILE://")):
        parts = urllib.parse.urlsplit(location)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError("a file:// URL must name a local file (file:///path)", location)
        path = Path(urllib.request.url2pathname(parts.path))
    else:
        path = Path(location).expanduser()
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno())
            if size.st_size > max_bytes:
                raise _too_big(location, max_bytes)
            raw = f.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", location) from None
    if len(raw) > max_bytes:
        raise _too_big(location, max_bytes)
    modified = format_datetime(datetime.fromtimestamp(size.st_mtime, UTC), usegmt=True)
    return _done(location, raw, None, modified, max_bytes)


# -- HTTP(S) ----------------------------------------------------------------------------------


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to ``http(s)://`` only (urllib's default also follows ``ftp://``)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        if scheme_of(newurl) not in ("http", "https"):
            fp.close()
            raise ConfigError(
                f"refused a redirect to {newurl}: only http(s) locations are fetched", req.full_url
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER: Final = urllib.request.build_opener(_HttpOnlyRedirects)


def _fetch_http(
    location: str, etag: str | None, last_modified: str | None, timeout: float, max_bytes: int
) -> Fetched:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(location, headers=headers)
    deadline = time.monotonic() + timeout
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length")
            if length is not None and length.isdigit() and int(length) > max_bytes:
                raise _too_big(location, max_bytes)
            raw = _read_limited(response, max_bytes, deadline, timeout, location)
            encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
            new_etag = response.headers.get("ETag")
            new_modified = response.headers.get("Last-Modified")
    except urllib.error.HTTPError as exc:
        with exc:
            if exc.code == 304:
                return Fetched(
                    None,
                    exc.headers.get("ETag") or etag,
                    exc.headers.get("Last-Modified") or last_modified,
                    None,
                    location,
                )
            raise ConfigError(f"HTTP {exc.code} {exc.reason}", location) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise ConfigError(f"timed out after {timeout:g}s", location) from None
        raise ConfigError(f"cannot fetch: {exc.reason}", location) from None
    except TimeoutError:
        raise ConfigError(f"timed out after {timeout:g}s", location) from None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ConfigError(f"cannot fetch: {exc or type(exc).__name__}", location) from None
    if encoding in ("gzip", "x-gzip"):
        raw = _gunzip(raw, max_bytes, location)
    elif encoding != "identity":
        raise ConfigError(f"unsupported Content-Encoding {encoding!r}", location)
    return _done(location, raw, new_etag, new_modified, max_bytes)


# -- S3 ---------------------------------------------------------------------------------------


def _fetch_s3(
    location: str, etag: str | None, last_modified: str | None, timeout: float, max_bytes: int
) -> Fetched:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_s3_uri(location)
    if not bucket or not key or key.endswith("/"):
        raise ConfigError("an S3 list location names one object: s3://bucket/key", location)
    args: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if etag:
        args["IfNoneMatch"] = etag
    if last_modified:
        since = _http_date(last_modified)
        if since is not None:
            args["IfModifiedSince"] = since
    deadline = time.monotonic() + timeout
    config = Config(connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2})
    body = None
    try:
        client = boto3.client("s3", config=config)
        response = client.get_object(**args)
        body = response["Body"]
        if int(response.get("ContentLength") or 0) > max_bytes:
            raise _too_big(location, max_bytes)
        raw = _read_limited(body, max_bytes, deadline, timeout, location)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 304 or error.get("Code") in ("304", "NotModified"):
            return Fetched(None, etag, last_modified, None, location)
        code = error.get("Code") or status
        raise ConfigError(
            f"cannot fetch: {code}: {error.get('Message') or 'request failed'}", location
        ) from None
    except BotoCoreError as exc:
        raise ConfigError(f"cannot fetch: {exc}", location) from None
    finally:
        if body is not None:
            body.close()
    modified = response.get("LastModified")
    stamp = format_datetime(modified.astimezone(UTC), usegmt=True) if isinstance(modified, datetime) else None
    return _done(location, raw, response.get("ETag"), stamp, max_bytes)


def _http_date(text: str) -> datetime | None:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "SCHEMES",
    "Fetched",
    "Fetcher",
    "fetch",
    "scheme_of",
]
