"""VPC Flow Logs → ``VPC_FLOW`` frames: text (any field order, versions 2–8), Parquet, and
CloudWatch Logs subscription envelopes.

Text is parsed by Polars' CSV reader (separator ``" "``, no quoting) a block at a time. A
clean block (the usual case) is one typed read, numbers parsed by the reader; a block with any
irregular line is read again as all-string columns and cast with vectorised expressions, so a
row whose field count differs from the header, or whose number fields are not numbers, is
reported with its line and dropped. ``-`` is "missing" (null). NODATA and SKIPDATA records keep
their row.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, BinaryIO, Final

import orjson
import polars as pl

from keibi.sources._flow_fields import DEFAULT_FORMAT, column_of
from keibi.sources._paths import DEFAULT_REGION, account_region
from keibi.sources._streams import GzipError
from keibi.sources._times import epoch_seconds
from keibi.sources.report import Report
from keibi.sources.schema import VPC_FLOW

BLOCK_BYTES: Final = 16 << 20

# Number fields and the type they are checked as (start and end are epoch seconds).
_NUMBERS: Final = {
    **{name: dtype for name, dtype in VPC_FLOW.items() if dtype.is_integer() and not name.startswith("_")},
    "start": pl.Int64(),
    "end": pl.Int64(),
}
_FIELD: Final = "_field"  # the first invalid field of a row, if any
_COUNT: Final = "_count"  # the row's field count, where it is wrong


def _normalise(raw: pl.DataFrame, names: Sequence[str | None], path: str, report: Report) -> pl.DataFrame:
    """All-string columns ``c0..cN`` (with ``_line`` and ``_count``) → ``VPC_FLOW``; bad rows reported."""
    present = {name: f"c{i}" for i, name in enumerate(names) if name is not None}
    account, region = account_region(path)

    def text(name: str) -> pl.Expr:
        if name not in present:
            return pl.lit(None, pl.String)
        col = pl.col(present[name])
        return pl.when(col != "-").then(col)

    numbers = {name: text(name).cast(dtype, strict=False) for name, dtype in _NUMBERS.items()}
    invalid = [
        pl.when(pl.col(present[name]).is_not_null() & (pl.col(present[name]) != "-") & expr.is_null()).then(
            pl.lit(name.replace("_", "-"))
        )
        for name, expr in numbers.items()
        if name in present
    ]
    start = numbers["start"]
    cols: dict[str, pl.Expr] = {}
    for name, dtype in VPC_FLOW.items():
        if name in numbers:
            cols[name] = numbers[name]
        elif dtype == pl.String:
            cols[name] = text(name)
    cols["start"] = epoch_seconds(start)
    cols["end"] = epoch_seconds(numbers["end"])
    cols["event_time"] = cols["start"]
    cols["account_id"] = pl.coalesce(text("account_id"), pl.lit(account or ""))
    cols["region"] = pl.coalesce(text("region"), pl.lit(region or DEFAULT_REGION))
    cols["_file"] = pl.lit(path, pl.String)
    out = raw.select(
        pl.col("_line"),
        pl.col(_COUNT),
        pl.coalesce(invalid).alias(_FIELD) if invalid else pl.lit(None, pl.String).alias(_FIELD),
        *(expr.cast(VPC_FLOW[name]).alias(name) for name, expr in cols.items() if name != "_line"),
        *(pl.col(present[n]).alias(f"_raw_{n}") for n in numbers if n in present),
    )
    # A format without ``start`` (the guide has some) leaves event_time null rather than losing every record.
    untimed = pl.col("start").is_null() if "start" in present else pl.lit(False)
    bad = out.filter(pl.col(_COUNT).is_not_null() | pl.col(_FIELD).is_not_null() | untimed)
    if not bad.is_empty():
        width = len(names)
        for row in bad.select(
            "_line", _COUNT, _FIELD, *(f"_raw_{n}" for n in numbers if n in present)
        ).iter_rows(named=True):
            if row[_COUNT] is not None:
                reason = f"expected {width} fields, got {row[_COUNT]}"
            elif row[_FIELD] is not None:
                field = row[_FIELD]
                reason = f"invalid {field} {row['_raw_' + field.replace('-', '_')]!r}"
            else:
                reason = "no start time"
            report.error(path, row["_line"], reason)
        out = out.filter(pl.col(_COUNT).is_null() & pl.col(_FIELD).is_null() & ~untimed)
    return out.select(VPC_FLOW.names())


_EDGE_SPACES: Final = re.compile(rb"(?m)^ +| +$")
_IRREGULAR_SPACES: Final = re.compile(rb"(?m)  |^ | $")
_SPACE_RUNS: Final = re.compile(rb" {2,}")
_NON_SPACE: Final = re.compile(rb"\S")


def _read_csv(block: bytes, width: int, *, strict: bool) -> tuple[pl.DataFrame, pl.Series | None]:
    """All-string columns ``c0..``; not ``strict``: ragged rows and bad UTF-8 tolerated, with
    each line's field count returned alongside."""
    options: dict[str, Any] = {
        "has_header": False,
        "separator": " ",
        "quote_char": None,
        "schema": {f"c{i}": pl.String() for i in range(width)},
        "infer_schema": False,
    }
    if strict:
        return pl.read_csv(io.BytesIO(block), **options), None
    raw = pl.read_csv(io.BytesIO(block), **options, truncate_ragged_lines=True, encoding="utf8-lossy")
    lines = block.decode("utf-8", "replace").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    counts = pl.Series(lines).str.strip_chars_end("\r").str.count_matches(" ", literal=True) + 1
    return raw, counts


def _read_block(block: bytes, width: int) -> pl.DataFrame:
    """``block``'s lines as columns ``c0..c{width-1}`` (strings) plus ``_count`` for ragged rows.

    The fast path is one strict CSV read; only a block with ragged rows is looked at again
    (spaces tidied, since hand-edited files, even the VPC guide's examples, have runs of them).
    """
    nulls = pl.sum_horizontal(pl.all().is_null().cast(pl.UInt32))
    partial = (nulls > 0) & (nulls < width)
    try:
        raw, counts = _read_csv(block, width, strict=True)
        ragged = bool(raw.select(partial.any()).item())
    except pl.exceptions.PolarsError:  # ComputeError, or SchemaError for a trailing space
        ragged = True
    if ragged:
        if _IRREGULAR_SPACES.search(block):
            block = _SPACE_RUNS.sub(b" ", _EDGE_SPACES.sub(b"", block))
        raw, counts = _read_csv(block, width, strict=False)
    if counts is None:
        count = pl.when(partial).then(width - nulls)
    else:
        count = pl.when(nulls < width).then(pl.when(partial | (counts != width)).then(counts))
    return raw.with_columns(count.cast(pl.Int64).alias(_COUNT), (nulls == width).alias("_blank"))


def _typed(
    block: bytes, names: Sequence[str | None], first_line: int, path: str, *, skip: int = 0
) -> pl.DataFrame | None:
    """``block`` as ``VPC_FLOW`` when every line is clean, else None (the checked path then runs).

    Clean means: each line has exactly ``len(names)`` fields (no blank lines, no runs of
    spaces), number fields parse, valid UTF-8 and every record has a start time. Most real
    files are clean, so one typed CSV read (numbers parsed by the reader, ``-`` as null) does
    the work without the per-row checks and error columns of :func:`_normalise`.
    """
    width = len(names)
    if not width:
        return None
    present = {name: f"c{i}" for i, name in enumerate(names) if name is not None}
    schema = {
        f"c{i}": (_NUMBERS.get(name, pl.String()) if name is not None else pl.String())
        for i, name in enumerate(names)
    }
    try:
        raw = pl.read_csv(
            block,
            has_header=False,
            separator=" ",
            quote_char=None,
            schema=schema,
            null_values="-",
            skip_lines=1 if skip else 0,
        )
    except pl.exceptions.PolarsError:
        return None
    # The reader rejects a line with too many fields and fills a short (or blank) one with
    # nulls, so a last column without nulls means every line is whole. Otherwise (a ``-``
    # there, or a short line) count: exactly ``width - 1`` separators per line means none is short.
    if raw[f"c{width - 1}"].null_count():
        lines = block.count(b"\n", skip) + (not block.endswith(b"\n"))
        if raw.height != lines or block.count(b" ", skip) != (width - 1) * lines:
            return None
    if "start" in present and raw[present["start"]].null_count():
        return None
    account, region = account_region(path)

    def col(name: str) -> pl.Expr:
        return pl.col(present[name]) if name in present else pl.lit(None, VPC_FLOW.get(name, pl.String()))

    cols: dict[str, pl.Expr] = {name: col(name) for name in VPC_FLOW.names() if name in present}
    cols["start"] = epoch_seconds(col("start"))
    cols["end"] = epoch_seconds(col("end"))
    cols["event_time"] = cols["start"]
    cols["account_id"] = pl.coalesce(col("account_id"), pl.lit(account or ""))
    cols["region"] = pl.coalesce(col("region"), pl.lit(region or DEFAULT_REGION))
    cols["_file"] = pl.lit(path, pl.String)
    cols["_line"] = pl.int_range(first_line, first_line + raw.height, dtype=pl.UInt32)
    first = names[0] if names else None
    if first is not None and schema["c0"] == pl.String:  # a repeated header line is not a record
        raw = raw.with_columns(pl.int_range(first_line, first_line + raw.height, dtype=pl.UInt32).alias("_l"))
        raw = raw.filter(pl.col("c0").ne_missing(first.replace("_", "-")))
        cols["_line"] = pl.col("_l")
    return raw.select(
        (cols[name] if name in cols else pl.lit(None, dtype)).cast(dtype).alias(name)
        for name, dtype in VPC_FLOW.items()
    )


def _parse(
    block: bytes, names: Sequence[str | None], first_line: int, path: str, report: Report, *, skip: int = 0
) -> pl.DataFrame:
    """``block``'s records from byte ``skip`` on (a header line before it is not a record)."""
    fast = _typed(block, names, first_line, path, skip=skip)
    if fast is not None:
        return fast
    block = block[skip:]
    raw = _read_block(block, len(names))
    raw = raw.with_row_index("_line", offset=first_line).filter(~pl.col("_blank"))
    if names and names[0] is not None:  # a repeated header line (concatenated files) is not a record
        raw = raw.filter(pl.col("c0").ne_missing(names[0].replace("_", "-")))
    return _normalise(raw, names, path, report)


def _slices(frame: pl.DataFrame, batch_rows: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, batch_rows):
        yield frame.slice(offset, batch_rows)


def text_frames(
    chunks: Iterable[bytes], path: str, report: Report, batch_rows: int, *, header: bool
) -> Iterator[pl.DataFrame]:
    """Frames of a space-separated flow log; ``header`` says its first line names the fields."""
    names: list[str | None] = [column_of(f) for f in DEFAULT_FORMAT]
    line = 1
    pending: list[bytes] = []
    size = 0
    stream = iter(chunks)
    broken: str | None = None
    while True:
        try:
            chunk = next(stream, None)
        except GzipError as exc:
            chunk, broken = None, str(exc)
        if chunk is not None:
            pending.append(chunk)
            size += len(chunk)
            if size < BLOCK_BYTES:
                continue
        buf = b"".join(pending)
        if chunk is not None or broken is not None:
            cut = buf.rfind(b"\n") + 1
            block, rest = buf[:cut], buf[cut:]
        else:
            block, rest = buf, b""
        pending, size = ([rest], len(rest)) if rest else ([], 0)
        skip = 0  # the header line's bytes: left in place, since cutting them off copies the block
        if header and line == 1:
            skip = block.find(b"\n") + 1 or len(block)
            names = [column_of(f) for f in block[:skip].decode("utf-8", "replace").split()]
            line = 2
        if _NON_SPACE.search(block, skip):
            yield from _slices(_parse(block, names, line, path, report, skip=skip), batch_rows)
        if chunk is None and broken is None:
            return
        line += block.count(b"\n", skip)
        if broken is not None:
            report.error(path, line, broken, file_skipped=True)
            return
        if chunk is None:
            return


def parquet_frames(raw: BinaryIO, path: str, report: Report, batch_rows: int) -> Iterator[pl.DataFrame]:
    """Frames of a Parquet flow log (columns named like the fields, hyphens or underscores)."""
    import pyarrow.parquet as pq

    source = raw if raw.seekable() else io.BytesIO(raw.read())
    source.seek(0)
    try:
        parquet = pq.ParquetFile(source)
    except Exception as exc:  # pyarrow raises its own ArrowInvalid / OSError kinds
        report.error(path, None, f"unreadable Parquet ({exc})", file_skipped=True)
        return
    names = [column_of(name) for name in parquet.schema_arrow.names]
    line = 1
    try:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            data = pl.from_arrow(batch)
            assert isinstance(data, pl.DataFrame)
            strings = data.select(
                *(pl.col(c).cast(pl.String).alias(f"c{i}") for i, c in enumerate(data.columns)),
                pl.int_range(line, line + data.height, dtype=pl.UInt32).alias("_line"),
                pl.lit(None, pl.Int64).alias(_COUNT),
            )
            line += data.height
            yield _normalise(strings, names, path, report)
    except OSError as exc:
        report.error(path, line, f"unreadable Parquet ({exc})", file_skipped=True)


def _envelopes(text: bytes) -> Iterator[tuple[int, Any]]:
    """``(line, envelope)`` for each JSON object, one per line or concatenated (as Firehose writes)."""
    decoder = json.JSONDecoder()
    for number, raw in enumerate(text.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            yield number, orjson.loads(raw)
            continue
        except orjson.JSONDecodeError:
            pass
        line = raw.decode("utf-8", "replace")
        pos = 0
        while pos < len(line):
            try:
                value, pos = decoder.raw_decode(line, pos)
            except json.JSONDecodeError as exc:
                yield number, exc
                break
            yield number, value
            while pos < len(line) and line[pos].isspace():
                pos += 1


def cloudwatch_frames(
    chunks: Iterable[bytes], path: str, report: Report, batch_rows: int
) -> Iterator[pl.DataFrame]:
    """Frames of CloudWatch Logs subscription envelopes whose ``logEvents[].message`` are flow
    lines in the default format; ``_line`` is the log event's 1-based position in the file."""
    parts: list[bytes] = []
    broken: str | None = None
    try:
        parts.extend(chunks)
    except GzipError as exc:
        broken = str(exc)
    data = b"".join(parts)
    messages: list[str] = []
    for line, envelope in _envelopes(data):
        if isinstance(envelope, json.JSONDecodeError):
            if broken is None or data.count(b"\n") + 1 != line:
                report.error(path, line, f"invalid JSON: {envelope.msg}")
            continue
        events = envelope.get("logEvents") if isinstance(envelope, dict) else None
        if not isinstance(events, list):
            report.error(path, line, "not a CloudWatch Logs subscription message")
            continue
        messages.extend(str(e.get("message", "")) if isinstance(e, dict) else "" for e in events)
    if messages:
        block = "\n".join(m.replace("\n", " ") for m in messages).encode()
        yield from _slices(_parse(block, [column_of(f) for f in DEFAULT_FORMAT], 1, path, report), batch_rows)
    if broken is not None:
        report.error(path, data.count(b"\n") + 1, broken, file_skipped=True)


__all__ = ["BLOCK_BYTES", "cloudwatch_frames", "parquet_frames", "text_frames"]
