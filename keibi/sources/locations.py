"""Where log files live: a local file or directory tree, or an S3 prefix.

A :class:`Location` is keibi's one outward edge for input, in the httpx-transport style: it lists
files and opens them as raw bytes (gzip still on), and knows nothing about formats. ``locate``
picks the right one for a URI.

    >>> loc = locate("AWSLogs/")                       # doctest: +SKIP
    >>> [f.uri for f in loc.list()]                    # doctest: +SKIP
    ['AWSLogs/123456789012/CloudTrail/us-east-1/2024/08/02/..._CloudTrail_....json.gz']
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from keibi.errors import ConfigError

READ_BUFFER = 1 << 20


@dataclass(frozen=True, slots=True)
class LogFile:
    """One input file: ``uri`` is a local path or ``s3://bucket/key``; ``etag`` is S3's (quotes removed)."""

    uri: str
    size: int
    etag: str | None = None


class Location(Protocol):
    """Lists and opens the files under one URI; see the module docstring."""

    def list(self) -> Iterator[LogFile]:
        """Every file under the location, recursively, in a stable order; nothing is skipped."""
        ...

    def open(self, f: LogFile) -> BinaryIO:
        """The file's raw bytes (gzip not yet removed), as a buffered stream with ``peek``."""
        ...


@dataclass(frozen=True, slots=True)
class LocalLocation:
    """A local file, or a directory searched recursively (e.g. an ``AWSLogs/`` tree)."""

    path: Path

    def list(self) -> Iterator[LogFile]:
        if self.path.is_file():
            yield LogFile(str(self.path), self.path.stat().st_size)
            return
        found = sorted(os.path.join(root, name) for root, _, files in os.walk(self.path) for name in files)
        for name in found:  # in plain string order, as S3 lists keys
            full = Path(name)
            if full.is_file():
                yield LogFile(name, full.stat().st_size)

    def open(self, f: LogFile) -> BinaryIO:
        return open(f.uri, "rb", buffering=READ_BUFFER)


class _RawBody(io.RawIOBase):
    """A botocore ``StreamingBody`` as a raw stream, so ``io.BufferedReader`` can wrap it."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        data = self._body.read(len(b))
        n = len(data)
        b[:n] = data
        return n

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Location:
    """Every object under ``s3://bucket/prefix``, read with boto3.

    The client is ``boto3.client("s3")``, so credentials, region and ``AWS_ENDPOINT_URL`` come
    from the environment as boto3 reads them. Keys ending in ``/`` (folder markers) hold no data.
    """

    def __init__(self, bucket: str, prefix: str, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("s3")
        return self._client

    def list(self) -> Iterator[LogFile]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
        for page in pages:
            for obj in page.get("Contents", []):
                key: str = obj["Key"]
                if key.endswith("/") and obj["Size"] == 0:
                    continue
                etag = obj.get("ETag")
                yield LogFile(
                    f"s3://{self.bucket}/{key}", int(obj["Size"]), etag.strip('"') if etag else None
                )

    def open(self, f: LogFile) -> BinaryIO:
        bucket, key = split_s3_uri(f.uri)
        body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        return io.BufferedReader(_RawBody(body), READ_BUFFER)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/key`` → ``("bucket", "some/key")``."""
    rest = uri.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    return bucket, key


def locate(uri: str) -> Location:
    """The location for ``uri``: ``s3://bucket/prefix``, or a local file or directory.

    Raises ``ConfigError`` for a local path that does not exist or an S3 URI without a bucket.
    """
    if uri.startswith("s3://"):
        bucket, prefix = split_s3_uri(uri)
        if not bucket:
            raise ConfigError(f"no bucket in S3 location: {uri}")
        return S3Location(bucket, prefix)
    path = Path(uri)
    if not path.exists():
        raise ConfigError(f"no such file or directory: {uri}")
    return LocalLocation(path)


__all__ = ["LocalLocation", "Location", "LogFile", "S3Location", "locate", "split_s3_uri"]
