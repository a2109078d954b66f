"""The watch manifest: every input file the watch loop committed, what it gave, and where each
watched source's listing stands.

A file is one row of ``processed_files`` (the table scans also use, so a file a scan read is
not read again by the watcher, nor the other way round), keyed by uri with its size and ETag:
a changed object is a new version and is read again. The row is written in the same
``Store.unit`` as the file's findings, usage and outbox events, so it exists exactly when they
do. States: ``DONE`` (read, ``errors`` records skipped), ``LATE`` (read, but its events were
older than the source's watermark by more than the allowed lateness: windows they belonged to
had closed, so window detectors saw them on their own), ``FAILED`` (unreadable: skipped whole,
``detail`` says why).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import sqlalchemy as sa

from keibi.store.store import Store
from keibi.store.tables import as_utc, processed_files, watch_markers

FileState = Literal["DONE", "LATE", "FAILED"]
DONE: Final = "DONE"
LATE: Final = "LATE"
FAILED: Final = "FAILED"


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """What one file gave, beside its uri, size and ETag."""

    source: str
    state: FileState
    events: int
    errors: int
    detail: str | None = None
    first_event_at: datetime | None = None
    last_event_at: datetime | None = None


def record_files(
    store: Store, files: Mapping[tuple[str, int, str | None], ManifestEntry], at: datetime
) -> None:
    """Write the manifest rows of ``files`` ((uri, size, etag) → entry)."""
    store.mark_processed(list(files), at, {uri: asdict(entry) for (uri, _, _), entry in files.items()})


def load_markers(store: Store, source: str) -> dict[str, str]:
    with store.transaction("read watch markers", read=True) as conn:
        rows = conn.execute(
            sa.select(watch_markers.c.key, watch_markers.c.value).where(watch_markers.c.source == source)
        )
        return {str(k): str(v) for k, v in rows}


def save_markers(store: Store, source: str, markers: Mapping[str, str]) -> None:
    """Replace ``source``'s markers by ``markers``."""
    with store.transaction("write watch markers") as conn:
        conn.execute(sa.delete(watch_markers).where(watch_markers.c.source == source))
        if markers:
            conn.execute(
                sa.insert(watch_markers),
                [{"source": source, "key": k, "value": v} for k, v in markers.items()],
            )


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One watched source as ``keibi status`` and ``/metrics`` show it."""

    source: str
    files: int
    events: int
    errors: int
    late: int
    failed: int
    files_last_minute: int
    events_last_minute: int
    last_file_at: datetime | None
    newest_event_at: datetime | None

    def lag_seconds(self, now: datetime) -> float | None:
        """How far the newest event read is behind ``now``: delivery delay plus keibi's own."""
        return (
            None if self.newest_event_at is None else max(0.0, (now - self.newest_event_at).total_seconds())
        )


def source_status(store: Store, now: datetime, sources: Sequence[str] | None = None) -> list[SourceStatus]:
    """Per watched source: totals, the last minute, and the newest event read."""
    f = processed_files.c
    minute = now - timedelta(minutes=1)
    recent = f.processed_at >= minute
    query = (
        sa.select(
            f.source,
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(f.events), 0),
            sa.func.coalesce(sa.func.sum(f.errors), 0),
            sa.func.sum(sa.case((f.state == LATE, 1), else_=0)),
            sa.func.sum(sa.case((f.state == FAILED, 1), else_=0)),
            sa.func.sum(sa.case((recent, 1), else_=0)),
            sa.func.coalesce(sa.func.sum(sa.case((recent, f.events), else_=0)), 0),
            sa.func.max(f.processed_at),
            sa.func.max(f.last_event_at),
        )
        .where(f.source.is_not(None))
        .group_by(f.source)
        .order_by(f.source)
    )
    if sources is not None:
        query = query.where(f.source.in_(list(sources)))
    with store.transaction("read the manifest", read=True) as conn:
        rows = conn.execute(query).all()
    out = []
    for row in rows:
        values: list[Any] = list(row)
        out.append(
            SourceStatus(
                source=values[0],
                files=int(values[1]),
                events=int(values[2]),
                errors=int(values[3]),
                late=int(values[4] or 0),
                failed=int(values[5] or 0),
                files_last_minute=int(values[6] or 0),
                events_last_minute=int(values[7] or 0),
                last_file_at=as_utc(values[8]),
                newest_event_at=as_utc(values[9]),
            )
        )
    return out


__all__ = [
    "DONE",
    "FAILED",
    "LATE",
    "FileState",
    "ManifestEntry",
    "SourceStatus",
    "load_markers",
    "record_files",
    "save_markers",
    "source_status",
]
