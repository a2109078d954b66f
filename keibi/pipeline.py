"""The whole flow in one place: sources → parse → enrich → detect → findings → store.

Batches are built per source from files read in event-time order, enriched once, and handed
to every detector of that source. Windowed detectors (``Detector.window``) see each row
exactly once, inside its closed event-time window: rows of windows that may still grow are
carried to the next batch, so findings do not depend on batch size or file boundaries, and a
backfill finds what live reading would. A window counts as closed once the newest event seen
on that source is ``LATENESS`` past its end (VPC flow records are aggregated over up to ten
minutes and delivered per interface, so files interleave by a few minutes); the end of a scan
closes every window.

Parsing is the measured bottleneck and, for CloudTrail JSON, holds the GIL; so on a big scan
local CloudTrail files of delivery size are parsed by ``parse_workers`` worker processes while
this process enriches and detects. VPC flow text and DNS JSON lines are not: Polars' CSV reader
and Arrow's JSON reader already use every core, and workers would only compete with them. Results are consumed in plan order with a bounded number in flight, so the
findings are those of a sequential run and memory stays bounded by batch size and the window.
A file bigger than ``POOL_MAX_FILE_BYTES`` (or on S3) is streamed here instead.

Threat-list match tables are prepared in a thread while the first files are read (read from
the store's cache when an earlier scan built them for the same lists; ``Intel.prepare``), so
millions of list entries cost the first batch little.

Suppression rules (ARCHIVE filters, ``keibi.store.filters``) are loaded once per scan, when the
``Engine`` is made. A finding the scan creates — one not in the store yet — is stored archived
when a rule of its own account and region (or of the administrator monitoring that account)
matches it; the store decides which findings are new inside the transaction that writes them
(``Store.upsert_findings(archive_new=...)``), so this costs no second read. A finding already
stored keeps its archived state on its next occurrence: GuardDuty suppresses new findings only.

Accounts switch analysis off per region through the API (``UpdateDetector``: the detector
DISABLED, or a feature such as S3_DATA_EVENTS): their records are read but neither detected on
nor counted as analysed. Accounts without a detector are analysed in full.

What a scan analysed (events and bytes per day, account, region, data source and resource, for
GetUsageStatistics) is counted by Polars group-bys over batches of parsed frames
(``keibi.store.usage.UsageTally``), and recorded with the files' checkpoints, so it follows them: a scan that fails records none,
a file left out as already scanned adds none, and a ``rescan`` counts its files again.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

import polars as pl

from keibi.detect import ROW, DetectContext, Detector, DetectorRegistry, DetectSettings, detectors
from keibi.enrich import enrich
from keibi.findings import DETAIL_COLUMNS, EVIDENCE_COLUMNS, FindingRecord, build_findings
from keibi.intel import Intel
from keibi.publish.events import record_backfilled
from keibi.sources import SOURCES, LocalLocation, LogFile, PlannedFile, Report, SourceName, plan, read
from keibi.store import Store
from keibi.store.detectors import paused
from keibi.store.filters import Suppression
from keibi.store.usage import UsageTally, data_source, record_usage

LATENESS: Final = timedelta(minutes=15)
DEFAULT_BATCH_ROWS: Final = 250_000
READ_AHEAD_FRAMES: Final = 4  # frames read ahead of detection (each at most batch_rows rows)
POOL_MIN_SCAN_BYTES: Final = 64 << 20  # below this a worker pool costs more than it saves
# CloudTrail JSON is parsed in Python, holding the GIL; Polars' CSV reader (flow) and Arrow's
# JSON reader (DNS) parse on every core already, and workers would only compete with them.
POOLED_SOURCES: Final = frozenset({"cloudtrail"})
PENDING_RECORDS: Final = 2_000  # finding records held before they are stored in one transaction
PENDING_EVIDENCE: Final = 100_000  # ... or evidence pointers held, whichever comes first
POOL_MAX_FILE_BYTES: Final = 8 << 20  # a (compressed) file bigger than this is streamed, not parsed whole
# Keys of the detector-state table that are not detectors' own state: a watch engine's open
# windows (rows carried per detector) and watermarks (per source).
_OPEN: Final = "~"
_CARRY: Final = "~carry/"
_WATERMARK: Final = "~watermark/"


class ScanProgress(Protocol):
    """What the CLI's progress bar listens to."""

    def start(self, files: int, size: int) -> None: ...

    def advance(self, file: LogFile, records: int) -> None: ...


@dataclass
class ScanResult:
    """A scan's summary: what was read and skipped, and the findings it created or updated."""

    report: Report
    findings: list[dict[str, Any]] = field(default_factory=list)
    already_scanned: int = 0  # files an earlier scan read, left out (``rescan`` reads them)


@dataclass
class _SourceState:
    frames: list[pl.DataFrame] = field(default_factory=list)
    rows: int = 0
    watermark: datetime | None = None


class Engine:
    """Runs detectors over batches and stores what they find; see the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        intel: Intel,
        settings: DetectSettings | None = None,
        registry: DetectorRegistry | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        now: datetime | None = None,
        lateness: timedelta = LATENESS,
        resume_windows: bool = False,
    ) -> None:
        self.store = store
        self.intel = intel
        self.list_versions = list_versions(intel)
        stored = store.detector_state()
        self.ctx = DetectContext(  # one per scan, starting from what earlier scans learned
            settings=settings or DetectSettings(),
            state={did: _decode_state(blob) for did, blob in stored.items() if not did.startswith(_OPEN)},
            aws_ip_ranges_date=intel.aws_ranges.create_date if intel.aws_ranges is not None else None,
        )
        self._state_saved = dict(self.ctx.state)
        self.lateness = lateness
        self._profiles_loaded = store.profiles()
        self.ctx.profiles.update(self._profiles_loaded)
        self.registry = (registry or detectors).load()
        self.types = self.registry.finding_types()
        self.batch_rows = batch_rows
        self.now = now
        self.touched: dict[str, None] = {}
        self.suppression = Suppression.load(store)
        # Findings are stored a few thousand records at a time, not per detector call: a finding
        # hit in many batches is merged in memory and written once per transaction.
        self._pending: list[FindingRecord] = []
        self._pending_evidence = 0
        self._sources: dict[SourceName, _SourceState] = {s: _SourceState() for s in SOURCES}
        self._carry: dict[str, pl.DataFrame] = {}
        self.created: set[str] = set()  # ids of the findings this engine created (not yet taken)
        self._carried: dict[str, pl.DataFrame] = {}  # the open rows the store holds, per detector
        if resume_windows:  # the open windows and watermarks the last checkpoint left
            for key, blob in stored.items():
                if key.startswith(_CARRY):
                    did = key.removeprefix(_CARRY)
                    self._carry[did] = self._carried[did] = _decode_state(blob)
                elif key.startswith(_WATERMARK) and key.removeprefix(_WATERMARK) in self._sources:
                    when = datetime.fromisoformat(blob.decode())
                    self._sources[key.removeprefix(_WATERMARK)].watermark = when  # type: ignore[index]

    def use_intel(self, intel: Intel) -> None:
        """Match later batches against ``intel`` (lists changed since the engine was made)."""
        self.intel = intel
        self.list_versions = list_versions(intel)

    def feed(self, source: SourceName, frame: pl.DataFrame) -> None:
        """Buffer a parsed frame; run the detectors once a full batch is buffered."""
        if frame.is_empty():
            return
        state = self._sources[source]
        state.frames.append(frame)
        state.rows += frame.height
        if state.rows >= self.batch_rows:
            self._flush(source, final=False)

    def finish(self) -> list[dict[str, Any]]:
        """Run what is buffered, close every window, keep what detectors learned for the next
        scan, and return the touched findings."""
        for source in SOURCES:
            self._flush(source, final=True)
        self._store_pending()
        self.store.save_detector_state(self._changed_states(), self.now or datetime.now(UTC))
        self._save_profiles()
        return self.store.get_findings(list(self.touched))

    def _changed_states(self) -> dict[str, bytes]:
        """Detectors' states replaced since they were loaded or last saved, encoded; marked saved."""
        changed = {
            did: _encode_state(frame)
            for did, frame in self.ctx.state.items()
            if self._state_saved.get(did) is not frame
        }
        self._state_saved = dict(self.ctx.state)
        return changed

    def checkpoint(self) -> list[dict[str, Any]]:
        """Detect on what is buffered without closing windows that may still grow, store the
        findings, and save what detectors learned, the open windows' rows and the watermarks,
        so an engine made with ``resume_windows`` goes on exactly from here. Returns the
        findings touched since the last checkpoint. The watch loop calls this once per file
        inside the file's ``Store.unit``: it commits with the file's checkpoint or not at all."""
        for source in SOURCES:
            if self._sources[source].frames:  # no new rows: no watermark move, no window closes
                self._flush(source, final=False)
        self._store_pending()
        at = self.now or datetime.now(UTC)
        changed = self._changed_states()
        carried = {did: frame for did, frame in self._carry.items() if not frame.is_empty()}
        changed.update(
            {_CARRY + did: _encode_state(f) for did, f in carried.items() if self._carried.get(did) is not f}
        )
        emptied = [_CARRY + did for did in self._carried.keys() - carried.keys()]
        self._carried = carried
        changed.update(
            {
                _WATERMARK + source: state.watermark.isoformat().encode()
                for source, state in self._sources.items()
                if state.watermark is not None
            }
        )
        self.store.save_detector_state(changed, at, drop=emptied)
        self._save_profiles()
        touched, self.touched = list(self.touched), {}
        return self.store.get_findings(touched)

    def close_windows(self, sources: Sequence[SourceName] = SOURCES) -> list[dict[str, Any]]:
        """Detect on every open window of ``sources`` now, as the end of a scan does, then
        ``checkpoint``: the watch loop's answer to a source that has gone quiet, whose windows
        no newer event would ever close."""
        for source in sources:
            self._flush(source, final=True)
        return self.checkpoint()

    def has_open_windows(self, source: SourceName) -> bool:
        return any(
            det.id in self._carry and not self._carry[det.id].is_empty()
            for det in self.registry.for_source(source)
        )

    def watermark(self, source: SourceName) -> datetime | None:
        """The newest event time seen on ``source``: windows close ``lateness`` behind it."""
        return self._sources[source].watermark

    def _save_profiles(self) -> None:
        for did, profile in self.ctx.profiles.items():
            before = self._profiles_loaded.get(did)
            if profile is not before:
                self.store.save_profile(did, profile, before)
                self._profiles_loaded[did] = profile

    def _flush(self, source: SourceName, *, final: bool) -> None:
        state = self._sources[source]
        batch = pl.concat(state.frames, how="vertical") if state.frames else None
        state.frames, state.rows = [], 0
        if batch is not None and not batch.is_empty():
            newest = batch["event_time"].max()
            if isinstance(newest, datetime) and (state.watermark is None or newest > state.watermark):
                state.watermark = newest
            batch = enrich(batch, source, self.intel)
        for det in self.registry.for_source(source):
            rows = batch
            if batch is not None and det.columns is not None:
                # Slimmed first, then filtered: the filter copies only the kept columns.
                mask = None if det.prefilter is None else batch.select(det.prefilter).to_series()
                rows = batch.select(c for c in _kept_columns(source, det.columns) if c in batch.columns)
                rows = rows if mask is None else rows.filter(mask)
            elif batch is not None and det.prefilter is not None:
                rows = batch.filter(det.prefilter)
            if det.window is None:
                if rows is not None and not rows.is_empty():
                    self._detect(det, rows)
            else:
                self._detect_windowed(det, rows, state.watermark, final=final)

    def _detect_windowed(
        self, det: Detector, rows: pl.DataFrame | None, watermark: datetime | None, *, final: bool
    ) -> None:
        assert det.window is not None
        parts = [f for f in (self._carry.pop(det.id, None), rows) if f is not None and not f.is_empty()]
        if not parts:
            return
        frame = pl.concat(parts, how="vertical")
        if final or watermark is None:
            self._detect(det, frame)
            return
        window = det.window(self.ctx)
        closed = (
            (pl.col("event_time").dt.truncate(window) + window) <= (watermark - self.lateness)
        ).fill_null(True)
        ready = frame.filter(closed)
        self._carry[det.id] = frame.filter(~closed)
        if not ready.is_empty():
            self._detect(det, ready)

    def _detect(self, det: Detector, rows: pl.DataFrame) -> None:
        frame = rows.with_row_index(ROW)
        found = det(frame, self.ctx)
        if found.is_empty():
            return
        now = self.now or datetime.now(UTC)
        records = build_findings(
            found,
            frame,
            det.source,
            self.types,
            now=now,
            detector=det.id,
            geo=self.intel.geo,
            list_versions=self.list_versions,
        )
        self._pending.extend(records)
        self._pending_evidence += sum(len(r.evidence) for r in records)
        if len(self._pending) >= PENDING_RECORDS or self._pending_evidence >= PENDING_EVIDENCE:
            self._store_pending()

    def _store_pending(self) -> None:
        archive_new = self.suppression.archives if self.suppression else None
        for stored in self.store.upsert_findings(
            self._pending, archive_new=archive_new, created=self.created
        ):
            self.touched[stored["id"]] = None
        self._pending, self._pending_evidence = [], 0


def _kept_columns(source: SourceName, columns: Sequence[str]) -> dict[str, None]:
    """A slimmed detector's columns plus those its findings are built from (ordered, no repeats)."""
    return dict.fromkeys([*EVIDENCE_COLUMNS, *DETAIL_COLUMNS[source], *columns])


def list_versions(intel: Intel) -> dict[str, str]:
    """Each list's name → the version of its content in use (lists without one left out), for
    the findings' ``threatListVersion``. When two lists share a name, the first in match order
    (trusted, threat, feeds) gives the version."""
    versions: dict[str, str] = {}
    for lst in (*intel.trusted, *intel.threat, *intel.feeds):
        if lst.version is not None:
            versions.setdefault(lst.name, lst.version)
    return versions


def _encode_state(frame: pl.DataFrame) -> bytes:
    """A detector's state frame as Arrow IPC bytes (schema included, so it reads back exactly)."""
    out = io.BytesIO()
    frame.write_ipc(out, compression="zstd")
    return out.getvalue()


def _decode_state(blob: bytes) -> pl.DataFrame:
    return pl.read_ipc(io.BytesIO(blob))


def _parse_whole(planned: PlannedFile, batch_rows: int) -> tuple[list[pl.DataFrame], Report]:
    """Worker-process body: one file's frames and its own report."""
    report = Report()
    return list(read(planned, report, batch_rows=batch_rows)), report


def default_workers() -> int:
    return min(2, os.cpu_count() or 1)


def _files(
    planned: Sequence[PlannedFile], batch_rows: int, workers: int
) -> Iterator[tuple[PlannedFile, Iterable[pl.DataFrame], Report]]:
    """Each planned file with its frames and its own report, in plan order; pooled files are
    parsed ahead in worker processes (a report is complete once its frames are consumed)."""
    pooled = [
        workers > 0
        and p.source in POOLED_SOURCES
        and isinstance(p.location, LocalLocation)
        and p.file.size <= POOL_MAX_FILE_BYTES
        for p in planned
    ]
    if not any(pooled):
        for item in planned:
            own = Report()
            yield item, read(item, own, batch_rows=batch_rows), own
        return
    ahead = 2 * workers
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures: deque[tuple[int, Future[tuple[list[pl.DataFrame], Report]]]] = deque()
        submitted = 0
        for index, item in enumerate(planned):
            while submitted < len(planned) and submitted <= index + ahead:
                if pooled[submitted]:
                    futures.append((submitted, pool.submit(_parse_whole, planned[submitted], batch_rows)))
                submitted += 1
            if not pooled[index]:
                own = Report()
                yield item, read(item, own, batch_rows=batch_rows), own
                continue
            position, future = futures.popleft()
            assert position == index
            frames, own = future.result()
            yield item, frames, own


def _read_ahead(
    planned: Sequence[PlannedFile], report: Report, batch_rows: int, workers: int
) -> Iterator[tuple[PlannedFile, pl.DataFrame | None]]:
    """``(file, frame)`` for every frame in plan order, then ``(file, None)`` when a file is done.

    A background thread reads (decompression and Polars release the GIL) up to
    ``READ_AHEAD_FRAMES`` frames ahead of detection, so reading and detecting overlap on two
    cores while memory stays bounded. Reports are merged here, in the consuming thread.
    """
    chute: queue.Queue[tuple[str, Any, Any]] = queue.Queue(maxsize=READ_AHEAD_FRAMES)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item, frames, own in _files(planned, batch_rows, workers):
                for frame in frames:
                    if stop.is_set():
                        return
                    chute.put(("frame", item, frame))
                chute.put(("done", item, own))
            chute.put(("end", None, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            chute.put(("error", None, exc))

    reader = threading.Thread(target=produce, name="keibi-read-ahead", daemon=True)
    reader.start()
    try:
        while True:
            kind, item, payload = chute.get()
            if kind == "frame":
                yield item, payload
            elif kind == "done":
                report.merge(payload)
                yield item, None
            elif kind == "end":
                return
            else:
                raise payload
    finally:
        stop.set()
        while reader.is_alive():  # unblock a producer waiting on a full queue
            try:
                chute.get_nowait()
            except queue.Empty:
                reader.join(0.05)


def scan(
    uris: Sequence[str],
    store: Store,
    *,
    intel: Intel,
    settings: DetectSettings | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: ScanProgress | None = None,
    now: datetime | None = None,
    parse_workers: int | None = None,
    pool_min_bytes: int = POOL_MIN_SCAN_BYTES,
    rescan: bool = False,
) -> ScanResult:
    """Read every file under ``uris`` in event-time order, detect, and store the findings.

    Each input file is read once: files an earlier scan read (same uri, size and ETag) are
    left out unless ``rescan``, so scanning a growing archive again only reads what is new
    and never counts an occurrence twice. The files are recorded once the scan has stored
    its findings, and with them what it analysed (``keibi.store.usage``): just before the
    checkpoints, as findings are, so a scan that fails records no usage and one that dies
    between the two writes is read, and counted, again. A ``rescan`` counts its files again
    in the usage, as GuardDuty would bill logs it analysed twice. ``parse_workers`` processes
    parse files ahead when the scan holds at least ``pool_min_bytes`` (default: up to two, one
    per core; 0 parses everything here).
    """
    report = Report()
    # Local paths are made absolute: evidence pointers then work from any directory, and the
    # same file scanned as ``logs/x`` and ``/srv/logs/x`` is one checkpoint, not two.
    planned = plan([u if u.startswith("s3://") else os.path.abspath(u) for u in uris], report)
    done = set() if rescan else store.processed([_input_file(p) for p in planned])
    planned = [p for p in planned if p.file.uri not in done]
    engine = Engine(store, intel=intel, settings=settings, batch_rows=batch_rows, now=now)
    warm = _Prepare(intel, store)
    size = sum(p.file.size for p in planned)
    if progress is not None:
        progress.start(len(planned), size)
    workers = default_workers() if parse_workers is None else parse_workers
    if size < pool_min_bytes:
        workers = 0
    records = 0
    tally = UsageTally()
    skipped = Paused(paused(store))
    for item, frame in _read_ahead(planned, report, batch_rows, workers):
        if frame is not None:
            records += frame.height
            frame = skipped.drop(item.source, frame)
            tally.add(item.source, frame)
            warm.wait()
            engine.feed(item.source, frame)
        else:
            tally.end_file(item.file.size)
            if progress is not None:
                progress.advance(item.file, records)
            records = 0
    warm.wait()
    findings = engine.finish()
    at = now or datetime.now(UTC)
    record_backfilled(store, findings, engine.created, at)
    record_usage(store, tally.rows(), at=at)
    store.mark_processed([_input_file(p) for p in planned], at)
    return ScanResult(report=report, findings=findings, already_scanned=len(done))


class _Prepare:
    """``intel.prepare(cache=store)`` in a thread; ``wait`` returns once it is done, raising
    what it raised, so the intel is never used while its tables are being built."""

    def __init__(self, intel: Intel, store: Store) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(intel, store), name="keibi-intel", daemon=True
        )
        self._thread.start()

    def _run(self, intel: Intel, store: Store) -> None:
        try:
            intel.prepare(cache=store)
        except BaseException as exc:  # handed to the scanning thread by wait()
            self._error = exc

    def wait(self) -> None:
        if self._thread.is_alive():
            self._thread.join()
        if self._error is not None:
            error, self._error = self._error, None
            raise error


class Paused:
    """The records a scan leaves unanalysed: those of accounts and regions whose detector is
    DISABLED, or whose feature for that data source is (``keibi.store.detectors.paused``), as
    GuardDuty analyses nothing for them. They are read (and reported) but neither detected on
    nor counted in the usage. One anti-join per frame, only when something is paused."""

    def __init__(self, rows: Sequence[tuple[str, str, str]]) -> None:
        self.table = (
            pl.DataFrame(rows, schema=["account_id", "region", "_data_source"], orient="row")
            if rows
            else None
        )

    def drop(self, source: SourceName, frame: pl.DataFrame) -> pl.DataFrame:
        if self.table is None:
            return frame
        return (
            frame.with_columns(data_source(source).alias("_data_source"))
            .join(self.table, on=["account_id", "region", "_data_source"], how="anti")
            .drop("_data_source")
        )


def _input_file(planned: PlannedFile) -> tuple[str, int, str | None]:
    return (planned.file.uri, planned.file.size, planned.file.etag)


__all__ = [
    "DEFAULT_BATCH_ROWS",
    "LATENESS",
    "Engine",
    "Paused",
    "ScanProgress",
    "ScanResult",
    "default_workers",
    "list_versions",
    "scan",
]
