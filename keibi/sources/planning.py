"""Which files to read, as what, in which order: every file under the given locations, its
source recognised from its content, sorted by earliest event time so files are fed in
event-time order (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from keibi.sources._streams import read_head
from keibi.sources.locations import Location, LogFile, locate
from keibi.sources.report import Report
from keibi.sources.schema import SourceName
from keibi.sources.sniff import UnknownFormat, sniff

_UNKNOWN_TIME: Final = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """A file to read: where it is, which source it holds, and its earliest event time (if seen)."""

    file: LogFile
    location: Location
    source: SourceName
    first_time: datetime | None


def _peek(location: Location, f: LogFile, report: Report) -> PlannedFile | None:
    try:
        with location.open(f) as raw:
            head, complete, broken = read_head(raw)
    except Exception as exc:  # any I/O failure of one file (OSError, botocore errors) skips that file
        report.error(f.uri, None, f"cannot read ({exc})", file_skipped=True)
        return None
    if broken is not None and not head:
        report.error(f.uri, 1, broken, file_skipped=True)
        return None
    try:
        sniffed = sniff(head, complete=complete)
    except UnknownFormat as exc:
        if broken is not None:  # a few bytes made it out of a broken gzip
            report.error(f.uri, 1, broken, file_skipped=True)
        else:
            report.error(f.uri, exc.line, exc.reason, file_skipped=True)
        return None
    if sniffed.source is None:  # a CloudTrail digest: holds no events
        return None
    return PlannedFile(f, location, sniffed.source, sniffed.first_time)


def plan(uris: Sequence[str], report: Report) -> list[PlannedFile]:
    """Every readable log file under ``uris``, each once, sorted by (first event time, uri).

    Files of no known format (empty, binary, unknown, a gzip broken in its first bytes) are
    reported in ``report`` and left out; files whose head shows no event time sort first.
    CloudTrail digest files are left out silently: they are integrity proofs, not events.
    Raises ``ConfigError`` for a location that does not exist.
    """
    seen: set[str] = set()
    found: list[tuple[Location, LogFile]] = []
    for uri in uris:
        location = locate(uri)
        for f in location.list():
            if f.uri not in seen:
                seen.add(f.uri)
                found.append((location, f))
    return plan_files(found, report)


def plan_files(files: Sequence[tuple[Location, LogFile]], report: Report) -> list[PlannedFile]:
    """``plan`` for files already listed (the watch loop's new arrivals): each recognised from
    its head and sorted by (first event time, uri); unreadable ones reported and left out."""
    planned = [item for location, f in files if (item := _peek(location, f, report)) is not None]
    planned.sort(key=lambda p: (p.first_time or _UNKNOWN_TIME, p.file.uri))
    return planned


__all__ = ["PlannedFile", "plan", "plan_files"]
