"""Reading one planned file into frames of its source's schema, whatever its layout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import polars as pl

from keibi.sources import cloudtrail, dns, vpc_flow
from keibi.sources._json import gc_paused, json_document, json_lines
from keibi.sources._streams import HEAD, GzipError, decoded_chunks
from keibi.sources.planning import PlannedFile
from keibi.sources.report import Report
from keibi.sources.sniff import Layout, UnknownFormat, sniff


class _Headed:
    """A decompressed chunk stream whose first ``HEAD`` bytes are taken early to sniff the layout
    and then handed out again; a gzip break within the head is raised where it happened."""

    def __init__(self, raw: BinaryIO) -> None:
        self._rest = decoded_chunks(raw)
        self.head: list[bytes] = []
        self.broken: GzipError | None = None
        self.complete = False
        size = 0
        try:
            while size < HEAD:
                part = next(self._rest, None)
                if part is None:
                    self.complete = True
                    break
                self.head.append(part)
                size += len(part)
        except GzipError as exc:
            self.broken, self.complete = exc, True

    def __iter__(self) -> Iterator[bytes]:
        yield from self.head
        self.head = []
        if self.broken is not None:
            raise self.broken
        yield from self._rest


def _frames(planned: PlannedFile, raw: BinaryIO, report: Report, batch_rows: int) -> Iterator[pl.DataFrame]:
    path = planned.file.uri
    chunks = _Headed(raw)
    # The first chunk may be a whole file inflated; the layout needs only its start.
    whole = b"".join(chunks.head)
    head = whole[:HEAD]
    complete = chunks.complete and len(whole) <= HEAD
    if not head and chunks.broken is not None:
        report.error(path, 1, str(chunks.broken), file_skipped=True)
        return
    try:
        sniffed = sniff(head, complete=complete)
    except UnknownFormat as exc:
        if chunks.broken is not None:
            report.error(path, 1, str(chunks.broken), file_skipped=True)
        else:
            report.error(path, exc.line, exc.reason, file_skipped=True)
        return
    source = sniffed.source
    if source is None:
        return
    report.files[source] += 1
    report.bytes[source] += planned.file.size
    layout = sniffed.layout
    if layout is Layout.PARQUET:
        frames = vpc_flow.parquet_frames(raw, path, report, batch_rows)
    elif layout is Layout.FLOW_TEXT or layout is Layout.FLOW_TEXT_V2:
        frames = vpc_flow.text_frames(chunks, path, report, batch_rows, header=layout is Layout.FLOW_TEXT)
    elif layout is Layout.FLOW_CLOUDWATCH:
        frames = vpc_flow.cloudwatch_frames(chunks, path, report, batch_rows)
    elif source == "dns" and layout is Layout.JSON_LINES:
        frames = dns.line_frames(chunks, path, report, batch_rows)
    else:
        parse = json_lines if layout is Layout.JSON_LINES else json_document
        module = cloudtrail if source == "cloudtrail" else dns
        frames = module.frames(parse(chunks, path, report, batch_rows, module.row), path, report)
    for frame in frames:
        if frame.height:
            report.records[source] += frame.height
            yield frame


def read(planned: PlannedFile, report: Report, *, batch_rows: int = 250_000) -> Iterator[pl.DataFrame]:
    """Frames (at most ``batch_rows`` rows each) of ``planned``'s records in its source's schema.

    Counts files, records and bytes into ``report``. A malformed record is reported with its
    line and skipped; a file that breaks off (truncated gzip) keeps the records before the break
    and is reported as skipped from there. A file that can no longer be opened is reported.
    """
    try:
        raw = planned.location.open(planned.file)
    except Exception as exc:  # any I/O failure of one file skips that file, not the run
        report.error(planned.file.uri, None, f"cannot read ({exc})", file_skipped=True)
        return
    # The cyclic GC stays paused for the whole file, not per batch: parsed records die by
    # reference counting, so a collection only costs time (DESIGN §1: ~2x on big files).
    with raw, gc_paused():
        yield from _frames(planned, raw, report, batch_rows)


__all__ = ["read"]
