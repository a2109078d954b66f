"""JSON records out of a decompressed stream, with the line (or array position) each starts at.

Two layouts (see ``sniff.Layout``): JSON lines are parsed line by line, so a malformed line
costs only itself; a document that spans lines is parsed whole with orjson, and if it is
truncated or malformed, the complete records before the break are recovered one by one.
``{"Records": [...]}`` wrappers and top-level arrays are unwrapped wherever they appear, and
their records are numbered by 1-based position in the array.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import orjson

from keibi.sources._streams import GzipError
from keibi.sources.report import Report
from keibi.sources.sniff import kind_of

PARSE_ROWS: Final = 50_000  # records held as Python objects at once, whatever the batch size

Row = Callable[[dict[str, Any]], tuple[Any, ...]]
Batch = tuple[list[int], list[tuple[Any, ...]]]  # each record's line (or position) and its row

_ARRAY_START: Final = re.compile(r'^\s*(?:\[|\{\s*"Records"\s*:\s*\[)')


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many small objects (doubles parse throughput, DESIGN §1)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _add(
    value: Any,
    line: int,
    lines: list[int],
    rows: list[tuple[Any, ...]],
    row: Row,
    errors: list[tuple[int, str]],
) -> None:
    """Turn one parsed JSON value into rows: an event, or the events of a wrapper or array."""
    if type(value) is dict:
        inner = value.get("Records")
        if inner is None or type(inner) is not list:
            lines.append(line)
            rows.append(row(value))
            return
        value = inner
    if type(value) is list:
        for position, rec in enumerate(value, 1):
            if type(rec) is dict:
                lines.append(position)
                rows.append(row(rec))
            else:
                errors.append((line, f"record {position} is not a JSON object"))
            value[position - 1] = None  # free each record while it is still in cache
    else:
        errors.append((line, "not a JSON object"))


def _report(errors: list[tuple[int, str]], path: str, report: Report) -> None:
    for line, reason in errors:
        report.error(path, line, reason)
    errors.clear()


def json_lines(
    chunks: Iterable[bytes], path: str, report: Report, batch_rows: int, row: Row, *, first_line: int = 1
) -> Iterator[Batch]:
    """Rows of a JSON-lines stream's records, in batches of at most ``batch_rows``.

    Each line is parsed and turned into its row at once, so the parsed objects die while still
    in cache: half the cost of parsing a whole batch first. ``first_line`` is the number of
    the stream's first line in its file (a part of a file is numbered as in the file).
    """
    limit = min(batch_rows, PARSE_ROWS)
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    lines: list[int] = []
    records: list[tuple[Any, ...]] = []
    errors: list[tuple[int, str]] = []
    add_line, add_row = lines.append, records.append
    pending: list[bytes] = []  # the start of a line not yet ended (a Records file is one long line)
    lineno = first_line - 1
    stream = iter(chunks)
    while True:
        try:
            chunk = next(stream, None)
        except GzipError as exc:
            if lines:
                yield lines, records
            report.error(path, lineno + 1, str(exc), file_skipped=True)
            return
        if chunk is None:
            last = b"".join(pending)
            parts = [last] if last.strip() else []
        else:
            cut = chunk.rfind(b"\n")
            if cut < 0:
                pending.append(chunk)
                continue
            pending.append(chunk[:cut])
            parts = b"".join(pending).split(b"\n")
            pending = [chunk[cut + 1 :]]
        with gc_paused():
            for raw in parts:
                lineno += 1
                if not raw or raw.isspace():
                    continue
                try:
                    value = loads(raw)
                except decode_error as exc:
                    report.error(path, lineno, f"invalid JSON: {exc}")
                    continue
                if type(value) is dict and "Records" not in value:
                    add_line(lineno)
                    add_row(row(value))
                else:
                    _add(value, lineno, lines, records, row, errors)
        _report(errors, path, report)
        while len(records) >= limit:
            yield lines[:limit], records[:limit]
            del lines[:limit], records[:limit]
        if chunk is None:
            if lines:
                yield lines, records
            return


def _split(lines: list[int], records: list[Any], limit: int) -> Iterator[Batch]:
    for i in range(0, len(records), limit):
        yield lines[i : i + limit], records[i : i + limit]


def json_document(
    chunks: Iterable[bytes], path: str, report: Report, batch_rows: int, row: Row
) -> Iterator[Batch]:
    """The records of one JSON document (all of it is read first: JSON cannot be parsed in parts)."""
    parts: list[bytes] = []
    broken: str | None = None
    try:
        parts.extend(chunks)
    except GzipError as exc:
        broken = str(exc)
    data = b"".join(parts)
    parts.clear()
    lines: list[int] = []
    records: list[tuple[Any, ...]] = []
    errors: list[tuple[int, str]] = []
    with gc_paused():
        if broken is None:
            try:
                value = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                report.error(path, exc.lineno, f"invalid JSON: {exc.msg}", file_skipped=True)
                value = _salvage(data)
            if kind_of(value) is None:
                report.error(
                    path, None, "unknown log format (no CloudTrail or Resolver records)", file_skipped=True
                )
                return
            _add(value, 1, lines, records, row, errors)
        else:
            report.error(path, data.count(b"\n") + 1, broken, file_skipped=True)
            _add(_salvage(data), 1, lines, records, row, errors)
    del data
    _report(errors, path, report)
    yield from _split(lines, records, min(batch_rows, PARSE_ROWS))


def _salvage(data: bytes) -> list[Any]:
    """The complete records at the start of a broken ``[...]`` or ``{"Records": [...]}`` document."""
    text = data.decode("utf-8", "replace")
    m = _ARRAY_START.match(text)
    if m is None:
        return []
    decoder = json.JSONDecoder()
    found: list[Any] = []
    pos = m.end()
    size = len(text)
    while True:
        while pos < size and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= size or text[pos] == "]":
            return found
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return found
        found.append(value)


__all__ = ["PARSE_ROWS", "Batch", "Row", "gc_paused", "json_document", "json_lines"]
