"""What continuous monitoring is doing, read from the store: per source lag, files and events
per minute and errors; per target deliveries, retries and dead letters.

Everything is read from the store, not counted in the process, so ``keibi status`` and the
``/metrics`` of ``keibi serve`` show a ``keibi watch`` running elsewhere as well as one running
beside the API, and the figures survive restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from keibi.store import Store
from keibi.store.manifest import SourceStatus, source_status
from keibi.store.outbox import DeliveryStatus, delivery_status


@dataclass(frozen=True, slots=True)
class Status:
    at: datetime
    sources: list[SourceStatus]
    targets: list[DeliveryStatus]

    def as_json(self) -> dict[str, Any]:
        return {
            "at": _iso(self.at),
            "sources": [
                {
                    "source": s.source,
                    "files": s.files,
                    "events": s.events,
                    "errors": s.errors,
                    "lateFiles": s.late,
                    "failedFiles": s.failed,
                    "filesLastMinute": s.files_last_minute,
                    "eventsLastMinute": s.events_last_minute,
                    "lastFileAt": _iso(s.last_file_at),
                    "newestEventAt": _iso(s.newest_event_at),
                    "lagSeconds": s.lag_seconds(self.at),
                }
                for s in self.sources
            ],
            "targets": [
                {
                    "target": t.target,
                    "delivered": t.delivered,
                    "pending": t.pending,
                    "retrying": t.retrying,
                    "deadLetters": t.dead,
                    "oldestPendingAt": _iso(t.oldest_pending_at),
                    "lastError": t.last_error,
                }
                for t in self.targets
            ],
        }


def read_status(store: Store, at: datetime | None = None) -> Status:
    now = at or datetime.now(UTC)
    return Status(now, source_status(store, now), delivery_status(store))


class StatusCollector(Collector):
    """Prometheus metrics from :func:`read_status`, read at each scrape."""

    def __init__(self, store: Store, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock

    def collect(self) -> Iterator[Any]:
        status = read_status(self.store, self.clock())
        files = CounterMetricFamily(
            "keibi_watch_files", "Files committed, by source and state", labels=["source", "state"]
        )
        events = CounterMetricFamily("keibi_watch_events", "Log events read, by source", labels=["source"])
        errors = CounterMetricFamily(
            "keibi_watch_errors", "Records or files skipped, by source", labels=["source"]
        )
        per_minute = GaugeMetricFamily(
            "keibi_watch_files_per_minute", "Files committed in the last minute", labels=["source"]
        )
        events_minute = GaugeMetricFamily(
            "keibi_watch_events_per_minute", "Events read in the last minute", labels=["source"]
        )
        lag = GaugeMetricFamily(
            "keibi_watch_lag_seconds", "Now minus the newest event time read, by source", labels=["source"]
        )
        for s in status.sources:
            files.add_metric([s.source, "DONE"], s.files - s.late - s.failed)
            files.add_metric([s.source, "LATE"], s.late)
            files.add_metric([s.source, "FAILED"], s.failed)
            events.add_metric([s.source], s.events)
            errors.add_metric([s.source], s.errors)
            per_minute.add_metric([s.source], s.files_last_minute)
            events_minute.add_metric([s.source], s.events_last_minute)
            seconds = s.lag_seconds(status.at)
            if seconds is not None:
                lag.add_metric([s.source], seconds)
        delivered = CounterMetricFamily("keibi_deliveries", "Events delivered, by target", labels=["target"])
        pending = GaugeMetricFamily(
            "keibi_deliveries_pending",
            "Events waiting for delivery (retrying: after a failure)",
            labels=["target", "retrying"],
        )
        dead = GaugeMetricFamily("keibi_dead_letters", "Deliveries given up, by target", labels=["target"])
        for t in status.targets:
            delivered.add_metric([t.target], t.delivered)
            pending.add_metric([t.target, "false"], t.pending - t.retrying)
            pending.add_metric([t.target, "true"], t.retrying)
            dead.add_metric([t.target], t.dead)
        yield from (files, events, errors, per_minute, events_minute, lag, delivered, pending, dead)


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).isoformat().replace("+00:00", "Z")


__all__ = ["Status", "StatusCollector", "read_status"]
