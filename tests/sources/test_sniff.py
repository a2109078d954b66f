"""Formats are recognised from content (gzip or plain), never from the file name."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keibi.sources import Layout, sniff
from keibi.sources._streams import read_head
from keibi.sources.sniff import UnknownFormat

T = datetime(2024, 8, 2, 8, 3, 10, tzinfo=UTC)

CASES = {
    "records": (
        b'{"Records":[{"eventVersion":"1.09","eventTime":"2024-08-02T08:05:41Z"},'
        b'{"eventVersion":"1.09","eventTime":"2024-08-02T08:03:10Z"}]}',
        "cloudtrail",
        Layout.JSON_LINES,
    ),
    "records pretty": (
        b'{\n  "Records": [\n    {\n      "eventTime": "2024-08-02T08:03:10Z",\n'
        b'      "eventSource": "s3.amazonaws.com"\n    }\n  ]\n}\n',
        "cloudtrail",
        Layout.JSON_DOCUMENT,
    ),
    "array": (
        b'[\n {"eventVersion": "1.08", "eventTime": "2024-08-02T08:03:10Z"}\n]\n',
        "cloudtrail",
        Layout.JSON_DOCUMENT,
    ),
    "lines": (
        b'{"eventSource":"iam.amazonaws.com","eventTime":"2024-08-02T08:03:10Z"}\n'
        b'{"eventSource":"iam.amazonaws.com","eventTime":"2024-08-02T09:00:00Z"}\n',
        "cloudtrail",
        Layout.JSON_LINES,
    ),
    "logstash": (
        b'{"eventSource":"ec2.amazonaws.com","@timestamp":"2024-08-02T08:03:10.000Z"}\n',
        "cloudtrail",
        Layout.JSON_LINES,
    ),
    "eventbridge": (
        b'{"detail-type":"AWS API Call via CloudTrail","detail":{"eventSource":"s3.amazonaws.com",'
        b'"eventTime":"2024-08-02T08:03:10Z"}}\n',
        "cloudtrail",
        Layout.JSON_LINES,
    ),
    "malformed first line": (
        b'{"eventSource": "iam.amaz\n{"eventSource":"iam.amazonaws.com","eventTime":"2024-08-02T08:03:10Z"}\n',
        "cloudtrail",
        Layout.JSON_LINES,
    ),
    "dns": (
        b'{"version":"1.100000","query_timestamp":"2024-08-02T08:03:10Z","query_name":"example.com."}\n',
        "dns",
        Layout.JSON_LINES,
    ),
    "flow header": (
        b"version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n"
        b"2 111122223333 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1722585790 1722585850 ACCEPT OK\n",
        "vpc_flow",
        Layout.FLOW_TEXT,
    ),
    "flow no header": (
        b"2 111122223333 eni-1 10.0.0.1 10.0.0.2 1 2 6 1 40 1722585790 1722585850 ACCEPT OK\n",
        "vpc_flow",
        Layout.FLOW_TEXT_V2,
    ),
    "cloudwatch": (
        b'{"messageType":"DATA_MESSAGE","owner":"1","logEvents":[{"id":"1","timestamp":1722585790000,"message":"2 1"}]}',
        "vpc_flow",
        Layout.FLOW_CLOUDWATCH,
    ),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_recognised(name: str, compress: bool) -> None:
    data, source, layout = CASES[name]
    raw = gzip.compress(data) if compress else data
    head, complete, broken = read_head(io.BytesIO(raw))
    assert (complete, broken) == (True, None)
    sniffed = sniff(head, complete=complete)
    assert (sniffed.source, sniffed.layout) == (source, layout)
    if name not in ("cloudwatch", "flow header", "flow no header"):
        assert sniffed.first_time == T  # the earliest time in the head, not the first
    else:
        assert sniffed.first_time == datetime(2024, 8, 2, 8, 3, 10, tzinfo=UTC)


def test_parquet_and_digest() -> None:
    assert sniff(b"PAR1\x15\x04", complete=False).layout is Layout.PARQUET
    digest = sniff(b'{"awsAccountId":"1","digestStartTime":"2024-08-02T08:00:00Z"}', complete=True)
    assert (digest.source, digest.layout) == (None, Layout.DIGEST)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "unknown log format (binary data)"),
        (b'{"query_name": "a\xff\xfe\xfd\xfc.example."}\n', "unknown log format (binary data)"),
        (b'{"kind": "inventory"}\n', "unknown log format (JSON, but not"),
        (
            b'127.0.0.1 - - [02/Aug/2024:08:03:10 +0000] "GET / HTTP/1.1" 200\n',
            "unknown log format (text, but not",
        ),
    ],
)
def test_not_a_log(data: bytes, reason: str) -> None:
    with pytest.raises(UnknownFormat) as caught:
        sniff(data, complete=True)
    assert caught.value.reason.startswith(reason)


def test_head_of_a_big_gzip_is_read_partly(tmp_path: Path) -> None:
    body = b"".join(
        b'{"eventSource":"s3.amazonaws.com","eventTime":"2024-08-02T08:03:10Z"}\n' for _ in range(20_000)
    )
    head, complete, broken = read_head(io.BytesIO(gzip.compress(body)))
    assert not complete and broken is None
    assert len(head) >= 64 << 10 and body.startswith(head)


def test_head_of_a_truncated_gzip() -> None:
    raw = gzip.compress(b'{"eventSource":"s3.amazonaws.com"}\n' * 100)
    assert read_head(io.BytesIO(raw[:10])) == (b"", True, "truncated gzip")
    head, complete, broken = read_head(io.BytesIO(raw[:-12]))  # the trailer and a little data gone
    assert complete and broken == "truncated gzip"
    assert head and (b'{"eventSource":"s3.amazonaws.com"}\n' * 100).startswith(head)
