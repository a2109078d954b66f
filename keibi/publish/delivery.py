"""Delivering the outbox: each target gets its due events, with retries, backoff and a dead
letter when it keeps failing.

A target takes one event at a time (``deliver``: webhook, Slack, email, SNS, Lambda, command)
or a batch (``deliver_batch``: an export destination writes one file per account and region).
A delivery is marked done only once the target took it, so a crash in between sends it again
with the same event id (at least once). A failure the target calls retryable (timeouts, 5xx,
throttling) is tried again after ``base * 2**attempts`` seconds (with jitter so many failed
deliveries do not all come back at once, and at most ``max_seconds``); after ``max_attempts`` tries, or at once when
the failure is not retryable (a 400, a missing topic), the delivery moves to the dead-letter
table, where ``keibi publish dead-letters --retry`` finds it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from keibi.errors import PublishError
from keibi.store import Store
from keibi.store.outbox import Due, due, mark_delivered, mark_failed

log = logging.getLogger("keibi.publish")

MAX_PARALLEL_TARGETS = 8


@runtime_checkable
class EventTarget(Protocol):
    name: str

    def wants(self, event: Mapping[str, Any]) -> bool: ...

    def deliver(self, event: Mapping[str, Any]) -> None: ...


@runtime_checkable
class BatchTarget(Protocol):
    name: str

    def wants(self, event: Mapping[str, Any]) -> bool: ...

    def deliver_batch(self, events: Sequence[Mapping[str, Any]], at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 2.0
    max_seconds: float = 900.0

    def next_attempt(self, attempts: int, at: datetime, rng: random.Random) -> datetime | None:
        """When to try again after ``attempts`` failed tries (this one included), or None to give up."""
        if attempts >= self.max_attempts:
            return None
        delay = min(self.max_seconds, self.base_seconds * 2 ** (attempts - 1)) * rng.uniform(0.8, 1.2)
        return at + timedelta(seconds=min(self.max_seconds, delay))  # capped waits still spread below


@dataclass
class Outcome:
    """What one round of deliveries did, per target."""

    delivered: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    dead: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, target: str, n: int = 1) -> None:
        counts: dict[str, int] = getattr(self, kind)
        counts[target] = counts.get(target, 0) + n

    def merge(self, other: Outcome) -> None:
        for kind in ("delivered", "failed", "dead"):
            for target, n in getattr(other, kind).items():
                self.add(kind, target, n)

    @property
    def total(self) -> int:
        return sum(self.delivered.values()) + sum(self.failed.values()) + sum(self.dead.values())


class Publisher:
    """Delivers due outbox events to ``targets``; ``run_once`` is one round over all of them."""

    def __init__(
        self,
        store: Store,
        targets: Sequence[EventTarget | BatchTarget],
        *,
        policy: RetryPolicy | None = None,
        batch: int = 200,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.targets = list(targets)
        self.policy = policy or RetryPolicy()
        self.batch = batch
        self.clock = clock
        self._rng = random.Random(seed)

    def run_once(self) -> Outcome:
        """One round: each target's due events, the targets side by side (one thread each, at
        most ``MAX_PARALLEL_TARGETS``), so a slow or unreachable target holds up only itself."""
        targets = list(self.targets)
        if len(targets) <= 1:
            return self._round(targets[0]) if targets else Outcome()
        outcome = Outcome()
        with ThreadPoolExecutor(
            min(MAX_PARALLEL_TARGETS, len(targets)), thread_name_prefix="keibi-deliver"
        ) as pool:
            for part in pool.map(self._round, targets):
                outcome.merge(part)
        return outcome

    def _round(self, target: EventTarget | BatchTarget) -> Outcome:
        outcome = Outcome()
        items = due(self.store, target.name, self.clock(), self.batch)
        if not items:
            return outcome
        if isinstance(target, BatchTarget):
            self._batch(target, items, outcome)
        else:
            for item in items:
                self._one(target, item, outcome)
        return outcome

    def _one(self, target: EventTarget, item: Due, outcome: Outcome) -> None:
        try:
            target.deliver(item.event)
        except PublishError as exc:
            self._failed(item, exc.reason, exc.retryable, outcome)
            return
        except Exception as exc:  # a target's bug must not stop the others: it is a failure
            self._failed(item, f"{type(exc).__name__}: {exc}", True, outcome)
            return
        mark_delivered(self.store, target.name, [item.event_id], self.clock())
        outcome.add("delivered", target.name)

    def _batch(self, target: BatchTarget, items: Sequence[Due], outcome: Outcome) -> None:
        try:
            target.deliver_batch([i.event for i in items], self.clock())
        except Exception as exc:
            reason = exc.reason if isinstance(exc, PublishError) else f"{type(exc).__name__}: {exc}"
            retryable = exc.retryable if isinstance(exc, PublishError) else True
            for item in items:
                self._failed(item, reason, retryable, outcome)
            return
        mark_delivered(self.store, target.name, [i.event_id for i in items], self.clock())
        outcome.add("delivered", target.name, len(items))

    def _failed(self, item: Due, reason: str, retryable: bool, outcome: Outcome) -> None:
        now = self.clock()
        retry_at = self.policy.next_attempt(item.attempts + 1, now, self._rng) if retryable else None
        mark_failed(self.store, item, reason, retry_at, now)
        if retry_at is None:
            log.warning("delivery of %s to %s dead-lettered: %s", item.event_id, item.target, reason)
            outcome.add("dead", item.target)
        else:
            outcome.add("failed", item.target)


__all__ = ["BatchTarget", "EventTarget", "Outcome", "Publisher", "RetryPolicy"]
