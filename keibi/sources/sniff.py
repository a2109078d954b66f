"""Recognise a log file's source and layout from the first bytes of its content, never its name.

Peeks at the head only (``_streams.HEAD`` bytes, decompressed), so planning a large archive
costs a few KB per file. The head also gives the file's earliest event time, by which files
are fed in event-time order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Final

import orjson

from keibi.sources._flow_fields import DEFAULT_FORMAT, FIELDS, LOG_STATUSES
from keibi.sources._times import parse_iso
from keibi.sources.schema import SourceName


class Layout(StrEnum):
    """How records sit in a file."""

    JSON_LINES = "json_lines"  # one JSON value per line (events, envelopes or {"Records": [...]})
    JSON_DOCUMENT = "json_document"  # one JSON document spanning lines ({"Records": [...]}, [...], {...})
    FLOW_TEXT = "flow_text"  # space-separated, with a header line naming the fields
    FLOW_TEXT_V2 = "flow_text_v2"  # space-separated default format, no header
    FLOW_CLOUDWATCH = "flow_cloudwatch"  # CloudWatch Logs subscription envelopes around flow lines
    PARQUET = "parquet"  # flow logs delivered as Parquet
    DIGEST = "digest"  # a CloudTrail digest file: no events, nothing to read


@dataclass(frozen=True, slots=True)
class Sniffed:
    """What a file's head says: its source (None for a digest), layout and earliest event time."""

    source: SourceName | None
    layout: Layout
    first_time: datetime | None


class UnknownFormat(Exception):
    """The head matches no supported format; ``reason`` says why, for the run's report."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


_CLOUDTRAIL_KEYS: Final = re.compile(rb'"(?:eventVersion|eventSource|eventName)"\s*:')
_DNS_KEYS: Final = re.compile(rb'"query_(?:name|timestamp)"\s*:')
_CLOUDWATCH_KEYS: Final = re.compile(rb'"logEvents"\s*:')
_DIGEST_KEYS: Final = re.compile(rb'"digest(?:StartTime|S3Object)"\s*:')
_EVENT_TIME: Final = re.compile(rb'"(?:eventTime|@timestamp)"\s*:\s*"([^"]{10,40})"')
_QUERY_TIME: Final = re.compile(rb'"query_timestamp"\s*:\s*"([^"]{10,40})"')
_CLOUDWATCH_TIME: Final = re.compile(rb'"timestamp"\s*:\s*(\d{10,13})\b')
_FIELD_NAME: Final = re.compile(r"^[a-z][a-z0-9-]*$")
_LINES_TRIED: Final = 20


def kind_of(value: Any) -> SourceName | Layout | None:
    """The source of one parsed JSON value (an event, an envelope, a wrapper), or None."""
    if isinstance(value, list):
        return next(
            (k for k in map(kind_of, value[:5]) if k is not None), "cloudtrail" if not value else None
        )
    if not isinstance(value, dict):
        return None
    if "Records" in value:
        return kind_of(value["Records"])
    if "detail-type" in value and isinstance(value.get("detail"), dict):
        return "cloudtrail" if "eventSource" in value["detail"] else None
    if "eventSource" in value or "eventVersion" in value:
        return "cloudtrail"
    if "query_name" in value or "query_timestamp" in value:
        return "dns"
    if "logEvents" in value and "messageType" in value:
        return Layout.FLOW_CLOUDWATCH
    if "digestStartTime" in value:
        return Layout.DIGEST
    return None


def _kind_from_keys(head: bytes) -> SourceName | Layout | None:
    if _DIGEST_KEYS.search(head):
        return Layout.DIGEST
    if _CLOUDWATCH_KEYS.search(head):
        return Layout.FLOW_CLOUDWATCH
    if _CLOUDTRAIL_KEYS.search(head):
        return "cloudtrail"
    if _DNS_KEYS.search(head):
        return "dns"
    return None


def _earliest_iso(pattern: re.Pattern[bytes], head: bytes) -> datetime | None:
    times = [
        t for t in (parse_iso(m.decode("ascii", "replace")) for m in pattern.findall(head)) if t is not None
    ]
    return min(times, default=None)


def _json(head: bytes, complete: bool) -> Sniffed:
    lines = head.split(b"\n")
    if not complete:
        lines = lines[:-1]  # the last line may be cut off by the head's end
    found: SourceName | Layout | None = None
    layout = Layout.JSON_DOCUMENT
    tried = 0
    for line in lines:
        line = line.strip()
        if not line:
            continue
        tried += 1
        if tried == 1 and line[-1:] in (b"[", b"{", b","):
            break  # the opening of a document that spans lines
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            if tried >= _LINES_TRIED:
                break
            continue  # a malformed first record; the next lines decide
        if isinstance(value, dict | list):
            layout = Layout.JSON_LINES  # a whole value on one line: JSON lines, whatever its records are
        found = kind_of(value)
        if found is not None:
            break
        if tried >= _LINES_TRIED:
            break
    if not any(line.strip() for line in lines):
        layout = (
            Layout.JSON_LINES
        )  # one line longer than the head: a single-line document or the first of many
    if found is None:
        found = _kind_from_keys(head)
    if found is None:
        raise UnknownFormat("unknown log format (JSON, but not CloudTrail, Route 53 Resolver or VPC flow)")
    if found is Layout.DIGEST:
        return Sniffed(None, Layout.DIGEST, None)
    if found is Layout.FLOW_CLOUDWATCH:
        stamps = [int(m) for m in _CLOUDWATCH_TIME.findall(head)]
        first = datetime.fromtimestamp(min(stamps) / 1000, UTC) if stamps else None
        return Sniffed("vpc_flow", Layout.FLOW_CLOUDWATCH, first)
    if found == "dns":
        return Sniffed("dns", layout, _earliest_iso(_QUERY_TIME, head))
    if found == "cloudtrail":
        return Sniffed("cloudtrail", layout, _earliest_iso(_EVENT_TIME, head))
    raise UnknownFormat("unknown log format")  # pragma: no cover - kind_of returns only the above


FIRST_TIME_LINES = 2000  # records looked at for a flow file's first event time (for ordering only)


def _flow_first_time(lines: list[bytes], start: int, width: int) -> datetime | None:
    """The earliest ``start`` among the first ``FIRST_TIME_LINES`` records: enough to order
    files, and cheap (a gzip member's first chunk can hold tens of thousands of lines)."""
    starts = []
    for line in lines[:FIRST_TIME_LINES]:
        parts = line.split()
        if len(parts) == width and parts[start].isdigit():
            starts.append(int(parts[start]))
    return datetime.fromtimestamp(min(starts), UTC) if starts else None


def _text(head: bytes, complete: bool) -> Sniffed:
    lines = [line for line in head.split(b"\n") if line.strip()]
    if not complete and len(lines) > 1:
        lines = lines[:-1]
    first = lines[0].decode("utf-8", "replace").split()
    if all(_FIELD_NAME.match(name) for name in first) and sum(name in FIELDS for name in first) >= max(
        3, len(first) // 2
    ):
        start = first.index("start") if "start" in first else -1
        when = _flow_first_time(lines[1:], start, len(first)) if start >= 0 else None
        return Sniffed("vpc_flow", Layout.FLOW_TEXT, when)
    if (
        len(first) == len(DEFAULT_FORMAT)
        and first[0].isdigit()
        and first[-1] in LOG_STATUSES
        and first[10].isdigit()
    ):
        return Sniffed("vpc_flow", Layout.FLOW_TEXT_V2, _flow_first_time(lines, 10, len(DEFAULT_FORMAT)))
    raise UnknownFormat("unknown log format (text, but not a VPC flow log)", 1)


def sniff(head: bytes, *, complete: bool) -> Sniffed:
    """Classify a file from its decompressed head; ``complete`` says the head is the whole file.

    Raises ``UnknownFormat`` for an empty file, binary data or an unsupported format.
    """
    if head.startswith(b"PAR1"):
        return Sniffed("vpc_flow", Layout.PARQUET, None)
    text = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text:
        raise UnknownFormat("empty file" if complete else "unknown log format (only whitespace)")
    if b"\x00" in head or not _is_utf8(head, complete):
        raise UnknownFormat("unknown log format (binary data)")
    if text[:1] in (b"{", b"["):
        return _json(text, complete)
    return _text(text, complete)


BINARY_SHARE: Final = 0.01  # more undecodable bytes than this in the head: not a text log


def _is_utf8(head: bytes, complete: bool) -> bool:
    """Text, allowing a stray invalid byte or two: a log with one corrupt record is still a
    log (the record is reported by line and skipped), random or binary data is not."""
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the head's end is fine
        if not complete and exc.start >= len(head) - 3 and exc.reason == "unexpected end of data":
            return True
        bad = head.decode("utf-8", "replace").count("\ufffd")
        return bad <= max(1, int(len(head) * BINARY_SHARE))
    return True


__all__ = ["Layout", "Sniffed", "UnknownFormat", "kind_of", "sniff"]
