"""Continuous monitoring: follow log sources, detect as files land, publish what is found.

The watch loop is ``keibi.pipeline`` run forever, one file at a time. Each source
(``keibi.sources.discover``: a local directory, an S3 prefix, an SQS queue of S3
notifications) is polled for new files; files the manifest already holds (same uri, size and
ETag) are acknowledged and left out; the rest are planned (format, event-time order) and
processed one by one. A file is processed inside one ``Store.unit``: its findings, what
detectors learned and the rows of windows still open, the usage, its manifest row and the
outbox events for the findings it created all commit together or not at all. So a ``kill
-9`` anywhere leaves the store as it was before the file or after it, and a restart goes on
from there with the same results as a run never interrupted: nothing lost, nothing counted
twice. Listing markers and SQS deletions follow the commit; if the process dies first the file
is listed again and the manifest skips it.

Windows are not closed at the end of a file, as a scan closes them at its end: they close
when the source's watermark (its newest event time) passes them by ``allowed_lateness``, and
their open rows are saved with each file. A file whose events are older than the watermark
minus the allowed lateness is late: it is still read, but the windows it belonged to have
closed, so it is recorded ``LATE`` in the manifest and counted.

Publishing runs in its own thread (``keibi.publish.delivery.Publisher``), woken after each
file, so a slow target never holds up detection.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import polars as pl

from keibi.detect import DetectSettings
from keibi.intel import Intel
from keibi.pipeline import LATENESS, Engine, Paused
from keibi.publish.delivery import Outcome, Publisher
from keibi.publish.events import Wants, on_findings, publish_updates
from keibi.sources import (
    SOURCES,
    LocalLocation,
    Location,
    LogFile,
    PlannedFile,
    Report,
    S3Location,
    SourceName,
    plan_files,
    read,
)
from keibi.sources.discover import REMOTE_PREFIXES, Discovered, Discovery, handles_done, open_discovery
from keibi.sources.locations import split_s3_uri
from keibi.store import Store
from keibi.store.detectors import paused
from keibi.store.filters import Suppression
from keibi.store.manifest import DONE, FAILED, LATE, ManifestEntry, load_markers, record_files, save_markers
from keibi.store.usage import UsageTally, record_usage

log = logging.getLogger("keibi.watch")

MAX_FILE_FAILURES: Final = (
    3  # a file that breaks processing this often is recorded FAILED, not retried forever
)
RULES_RELOAD_SECONDS: Final = (
    30.0  # suppression rules and paused detectors changed through the API apply this soon
)
INTEL_RELOAD_SECONDS: Final = 300.0  # ... threat and trusted lists (their tables are rebuilt)


@dataclass(frozen=True, slots=True)
class WatchSettings:
    poll_seconds: float = 1.0
    allowed_lateness: timedelta = LATENESS
    # A source with no new file for this long has its open windows detected on (delivery is
    # every 5 minutes for CloudTrail, 1 or 10 for flow logs: quiet longer, it has stopped).
    close_idle_after: timedelta = timedelta(minutes=15)
    batch_rows: int = 250_000
    publish_seconds: float = 0.5
    # A backlog is processed this much at a time (bytes as delivered, files) in one unit.
    group_bytes: int = 32 << 20
    group_files: int = 200


@dataclass
class StepResult:
    """What one poll of every source did."""

    files: int = 0
    events: int = 0
    late: int = 0
    failed: int = 0
    skipped: int = 0  # already in the manifest
    deferred: int = 0  # not committed (processing failed): polled again
    findings: int = 0
    emitted: int = 0
    report: Report = field(default_factory=Report)


class Watcher:
    """Polls ``sources`` and processes their new files; see the module docstring."""

    def __init__(
        self,
        store: Store,
        sources: Sequence[Discovery],
        *,
        load_intel: Callable[[], Intel],
        settings: DetectSettings | None = None,
        targets: Sequence[Wants] = (),
        refresh_targets: Callable[[], Sequence[Wants]] | None = None,
        watch: WatchSettings | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.sources = list(sources)
        self.load_intel = load_intel
        self.settings = settings
        self.targets = list(targets)
        self.refresh_targets = refresh_targets  # rebuilt with the rules: the API adds destinations
        self._publisher: Publisher | None = None
        self.watch = watch or WatchSettings()
        self.clock = clock
        self._failures: dict[str, int] = {}
        self._engine: Engine | None = None
        self._paused: Paused | None = None
        self._rules_at = self._intel_at = 0.0
        self._last_data: dict[SourceName, float] = {}  # when each log source last gave a file
        self._started = time.monotonic()
        self.processed = threading.Event()  # set after each committed file (wakes the publisher)
        for source in self.sources:
            source.restore(load_markers(store, source.name))

    # -- the loop --------------------------------------------------------------------------

    def run(
        self, stop: threading.Event, *, until_idle: bool = False, publisher: Publisher | None = None
    ) -> None:
        """Poll until ``stop`` is set (or, ``until_idle``, until a poll finds nothing new and
        nothing is due for delivery). ``publisher`` is run in a thread beside the loop."""
        self._publisher = publisher
        worker = None
        publishing = threading.Event()  # stops the publisher thread (``stop`` stops everything)
        if publisher is not None:
            worker = threading.Thread(
                target=self._publish_loop,
                args=(publisher, stop, publishing),
                name="keibi-publish",
                daemon=True,
            )
            worker.start()
        try:
            while not stop.is_set():
                result = self.step()
                if until_idle and not (result.files or result.failed or result.deferred or self._waiting()):
                    self.close_windows(idle=None)
                    self._stop_publishing(worker, publishing)
                    worker = None
                    while publisher is not None and self.publish(publisher).total:
                        pass  # what is due now, until nothing is (retries due later stay queued)
                    return
                if not result.files and not until_idle:
                    self.close_windows(idle=self.watch.close_idle_after)
                    stop.wait(self.watch.poll_seconds)
        finally:
            self._stop_publishing(worker, publishing)

    def _stop_publishing(self, worker: threading.Thread | None, publishing: threading.Event) -> None:
        if worker is not None:
            publishing.set()
            self.processed.set()
            worker.join(timeout=30)

    def publish(self, publisher: Publisher) -> Outcome:
        """Emit pending updates whose publishing frequency has passed, then deliver what is due."""
        publish_updates(self.store, self.targets, self.clock())
        return publisher.run_once()

    def _publish_loop(self, publisher: Publisher, stop: threading.Event, publishing: threading.Event) -> None:
        while not stop.is_set() and not publishing.is_set():
            try:
                self.publish(publisher)
            except Exception:  # the store away for a moment: try again on the next round
                log.exception("publishing failed; trying again")
            self.processed.wait(self.watch.publish_seconds)
            self.processed.clear()

    def close_windows(self, idle: timedelta | None) -> int:
        """Detect on the open windows of log sources quiet for ``idle`` (None: all of them, as
        the end of a scan does), in one unit with their outbox events. Returns the findings."""
        engine = self._engine_now()  # also right after a restart: the store may hold open windows
        now = time.monotonic()
        quiet = [
            s
            for s in SOURCES
            if engine.has_open_windows(s)
            and (idle is None or now - self._last_data.get(s, self._started) >= idle.total_seconds())
        ]
        if not quiet:
            return 0
        try:
            with self.store.unit("close quiet windows"):
                touched = engine.close_windows(quiet)
                created, engine.created = engine.created, set()
                on_findings(self.store, touched, created, self.targets, self.clock())
        except Exception as exc:
            self._engine = None
            log.error("closing the windows of %s failed: %s", ", ".join(quiet), exc)
            return 0
        log.info("closed the open windows of %s: %d findings", ", ".join(quiet), len(touched))
        self.processed.set()
        return len(touched)

    def _waiting(self) -> bool:
        """Whether a source holds files it will return later (still being written)."""
        return any(s.waiting for s in self.sources)

    def step(self) -> StepResult:
        """Poll every source once and process what is new."""
        result = StepResult()
        for source in self.sources:
            try:
                found = source.poll()
            except Exception as exc:  # an unreachable bucket or queue must not stop the others
                log.warning("%s: cannot poll: %s", source.name, exc)
                continue
            if not found:
                continue
            try:
                self._process(source, found, result)
            except Exception as exc:  # the store away: what committed stands, the rest comes again
                log.error("%s: %s", source.name, exc)
                try:
                    source.restore(load_markers(self.store, source.name))
                except Exception:
                    log.exception("%s: cannot reload the listing markers", source.name)
        return result

    # -- one source's new files ------------------------------------------------------------

    def _process(self, source: Discovery, found: Sequence[Discovered], result: StepResult) -> None:
        files = {d.file.uri: d.file for d in found}
        done = self.store.processed([(f.uri, f.size, f.etag) for f in files.values()])
        committed: set[str] = set(done)
        result.skipped += len(done)
        fresh = [f for uri, f in files.items() if uri not in done]
        report = Report()
        planned = plan_files([(_location(f), f) for f in fresh], report)
        result.report.merge(report)
        unplanned = {f.uri for f in fresh} - {p.file.uri for p in planned}
        if unplanned:  # unreadable (reported), or a CloudTrail digest (no events): never read again
            reasons = {e.path: str(e) for e in report.errors}
            self._record_only(source, [files[u] for u in sorted(unplanned)], reasons)
            committed |= unplanned
            result.failed += sum(1 for u in unplanned if u in reasons)
        for group in _groups(planned, self.watch.group_bytes, self.watch.group_files):
            if not self._process_group(source, group, result):
                break  # keep event-time order: the rest wait for the next poll
            committed.update(item.file.uri for item in group)
        source.commit([files[u] for u in sorted(committed)])
        save_markers(self.store, source.name, source.markers())
        handles = handles_done(found, committed)
        if handles:
            source.ack(handles)
        waiting = [p for p in planned if p.file.uri not in committed]
        if waiting:  # the source must hand them out again: back to what the store holds
            result.deferred += len(waiting)
            source.restore(load_markers(self.store, source.name))

    def _record_only(self, source: Discovery, files: Sequence[LogFile], reasons: dict[str, str]) -> None:
        entries = {
            (f.uri, f.size, f.etag): ManifestEntry(
                source=source.name,
                state=FAILED if f.uri in reasons else DONE,
                events=0,
                errors=1 if f.uri in reasons else 0,
                detail=reasons.get(f.uri),
            )
            for f in files
        }
        for uri, reason in reasons.items():
            log.warning("skipped %s", reason if reason.startswith(uri) else f"{uri}: {reason}")
        record_files(self.store, entries, self.clock())

    def _process_group(self, source: Discovery, items: Sequence[PlannedFile], result: StepResult) -> bool:
        """Read, detect, store and emit ``items`` in one unit; False when they must wait.

        A backlog is read a group of files at a time (``WatchSettings.group_bytes``): every
        detector runs once per batch, not once per file, and findings do not depend on how
        files are grouped (nor do event ids: a new finding's event id is its finding's). A group
        that fails is tried again a file at a time, so a file that breaks processing is found
        and, after ``MAX_FILE_FAILURES`` tries, recorded ``FAILED`` while the others go on."""
        engine = self._engine_now()
        assert self._paused is not None
        reports = [Report() for _ in items]
        spans: list[tuple[int, Any, Any, bool]] = []
        started = time.monotonic()
        what = items[0].file.uri if len(items) == 1 else f"{len(items)} files from {items[0].file.uri}"
        try:
            with self.store.unit(f"process {what}"):
                tally = UsageTally()
                for item, report in zip(items, reports, strict=True):
                    before = engine.watermark(item.source)
                    events, first, last = 0, None, None
                    for frame in read(item, report, batch_rows=self.watch.batch_rows):
                        events += frame.height
                        first, last = _span(frame, first, last)
                        frame = self._paused.drop(item.source, frame)
                        tally.add(item.source, frame)
                        engine.feed(item.source, frame)
                    tally.end_file(item.file.size)
                    late = (
                        before is not None
                        and last is not None
                        and last < before - self.watch.allowed_lateness
                    )
                    spans.append((events, first, last, late))
                touched = engine.checkpoint()
                created, engine.created = engine.created, set()
                at = self.clock()
                record_usage(self.store, tally.rows(), at=at)
                record_files(
                    self.store,
                    {
                        (item.file.uri, item.file.size, item.file.etag): ManifestEntry(
                            source=source.name,
                            state=LATE if late else DONE,
                            events=events,
                            errors=report.error_count,
                            detail=str(report.errors[0]) if report.errors else None,
                            first_event_at=first,
                            last_event_at=last,
                        )
                        for item, report, (events, first, last, late) in zip(
                            items, reports, spans, strict=True
                        )
                    },
                    at,
                )
                emitted = on_findings(self.store, touched, created, self.targets, at)
        except Exception as exc:
            self._engine = None  # its memory ran ahead of the store: rebuild from what committed
            if len(items) > 1:
                log.error("%s: processing failed (%s); again a file at a time", what, exc)
                return all(self._process_group(source, [item], result) for item in items)
            uri = items[0].file.uri
            failures = self._failures[uri] = self._failures.get(uri, 0) + 1
            log.error("%s: processing failed (%d of %d): %s", uri, failures, MAX_FILE_FAILURES, exc)
            if failures < MAX_FILE_FAILURES:
                return False
            self._record_only(source, [items[0].file], {uri: f"{uri}: processing failed: {exc}"})
            result.failed += 1
            return True
        for item, report, (events, _, _, late) in zip(items, reports, spans, strict=True):
            self._failures.pop(item.file.uri, None)
            self._last_data[item.source] = time.monotonic()
            for error in report.errors:
                log.warning("skipped %s", error)
            result.report.merge(report)
            result.events += events
            result.late += int(late)
            if late:
                log.warning(
                    "%s: late: its newest event is before the watermark minus the allowed lateness",
                    item.file.uri,
                )
        result.files += len(items)
        result.findings += len(touched)
        result.emitted += emitted
        log.info(
            "%s: %d events, %d findings, %d events emitted in %.0f ms",
            what,
            sum(e for e, _, _, _ in spans),
            len(touched),
            emitted,
            (time.monotonic() - started) * 1000,
        )
        self.processed.set()
        return True

    def _engine_now(self) -> Engine:
        """The engine, rebuilt from the store after a failure (its memory ran ahead of what
        committed); suppression rules and paused detectors are reloaded every
        ``RULES_RELOAD_SECONDS`` and the intel lists every ``INTEL_RELOAD_SECONDS``, so what
        changes through the API applies without a restart."""
        now = time.monotonic()
        if self._engine is None or now - self._intel_at > INTEL_RELOAD_SECONDS:
            intel = self.load_intel()
            intel.prepare(cache=self.store)
            if self._engine is None:
                self._engine = Engine(
                    self.store,
                    intel=intel,
                    settings=self.settings,
                    batch_rows=self.watch.batch_rows,
                    lateness=self.watch.allowed_lateness,
                    resume_windows=True,
                )
            else:
                self._engine.use_intel(intel)
            self._intel_at = self._rules_at = now
            self._paused = Paused(paused(self.store))
        elif now - self._rules_at > RULES_RELOAD_SECONDS:
            self._engine.suppression = Suppression.load(self.store)
            self._paused = Paused(paused(self.store))
            self._rules_at = now
            if self.refresh_targets is not None:
                self.targets = list(self.refresh_targets())
                if self._publisher is not None:
                    self._publisher.targets = list(self.targets)  # type: ignore[arg-type]
        return self._engine


def _groups(planned: Sequence[PlannedFile], max_bytes: int, max_files: int) -> Iterator[list[PlannedFile]]:
    """``planned`` in order, cut into groups of at most ``max_files`` files and about
    ``max_bytes`` (as delivered; a bigger file is a group of its own)."""
    group: list[PlannedFile] = []
    size = 0
    for item in planned:
        if group and (size + item.file.size > max_bytes or len(group) >= max_files):
            yield group
            group, size = [], 0
        group.append(item)
        size += item.file.size
    if group:
        yield group


def _span(frame: pl.DataFrame, first: Any, last: Any) -> tuple[Any, Any]:
    lo, hi = frame["event_time"].min(), frame["event_time"].max()
    if isinstance(lo, datetime):
        first = lo if first is None else min(first, lo)
    if isinstance(hi, datetime):
        last = hi if last is None else max(last, hi)
    return first, last


_S3_LOCATIONS: dict[str, S3Location] = {}


def _location(f: LogFile) -> Location:
    if f.uri.startswith("s3://"):
        bucket, _ = split_s3_uri(f.uri)
        if bucket not in _S3_LOCATIONS:
            _S3_LOCATIONS[bucket] = S3Location(bucket, "")
        return _S3_LOCATIONS[bucket]
    return LocalLocation(Path(f.uri))


def open_sources(uris: Sequence[str], *, settle_seconds: float) -> list[Discovery]:
    """The discoveries for ``uris`` (``keibi.sources.discover.open_discovery``); a local
    directory waits ``settle_seconds`` for a file to stop changing."""
    return [
        open_discovery(u)
        if u.startswith(REMOTE_PREFIXES)
        else open_discovery(os.path.abspath(u), settle_seconds=settle_seconds)  # pointers work from anywhere
        for u in uris
    ]


__all__ = ["StepResult", "WatchSettings", "Watcher", "open_sources"]
