"""The publishing outbox: events written with the findings they carry, delivered per target.

An event row is inserted in the same transaction (``Store.unit``) as the findings it carries,
with one ``deliveries`` row per target that wants it; a delivery is marked done only after
the target took it. So an event exists exactly once, and each target gets it at least once (a
crash between the target's answer and the mark sends it again, with the same event id for the
receiver to drop). A delivery that fails ``max_attempts`` times moves to ``dead_letters``;
``retry_dead`` puts it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from keibi.store.store import Store, chunks
from keibi.store.tables import as_utc, dead_letters, deliveries, publish_events, published_findings


@dataclass(frozen=True, slots=True)
class PublishRow:
    """A finding's publish state (``published_findings``)."""

    finding_id: str
    suppressed: bool
    published_count: int
    pending_since: datetime | None


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery to make now."""

    event_id: str
    target: str
    attempts: int
    event: dict[str, Any]


def publish_rows(store: Store, ids: Sequence[str]) -> dict[str, PublishRow]:
    t = published_findings.c
    out: dict[str, PublishRow] = {}
    with store.transaction("read publish state", read=True) as conn:
        for chunk in chunks(ids):
            rows = conn.execute(
                sa.select(t.finding_id, t.suppressed, t.published_count, t.pending_since).where(
                    t.finding_id.in_(chunk)
                )
            )
            for fid, suppressed, count, since in rows:
                out[fid] = PublishRow(fid, bool(suppressed), int(count), since)
    return out


def upsert_publish_rows(store: Store, rows: Iterable[dict[str, Any]]) -> None:
    """Replace the publish state of the findings in ``rows`` (all columns of ``published_findings``)."""
    rows = list(rows)
    if not rows:
        return
    with store.transaction("write publish state") as conn:
        ids = [r["finding_id"] for r in rows]
        for chunk in chunks(ids):
            conn.execute(sa.delete(published_findings).where(published_findings.c.finding_id.in_(chunk)))
        conn.execute(sa.insert(published_findings), rows)


def pending_updates(
    store: Store, since_before: datetime | None = None
) -> list[tuple[str, str, str, datetime]]:
    """(finding id, account, region, pending since) of every finding with an unpublished update
    (only those pending since before ``since_before``, when given)."""
    t = published_findings.c
    with store.transaction("read pending updates", read=True) as conn:
        query = sa.select(t.finding_id, t.account_id, t.region, t.pending_since)
        if since_before is not None:
            query = query.where(t.pending_since <= since_before)
        rows = conn.execute(
            query.where(t.pending_since.is_not(None), t.suppressed.is_(False)).order_by(
                t.pending_since, t.finding_id
            )
        )
        return [(str(a), str(b), str(c), d) for a, b, c, d in rows]


def add_events(
    store: Store,
    events: Sequence[tuple[str, str, dict[str, Any]]],
    targets: Mapping[str, Sequence[str]],
    at: datetime,
) -> None:
    """Insert ``events`` ((kind, finding id, EventBridge event)) and a delivery per target named
    in ``targets[event id]``. An event id already there is left as it is (a replay of the same
    occurrence is the same event)."""
    if not events:
        return
    with store.transaction("write events") as conn:
        ids = [e["id"] for _, _, e in events]
        known = set(
            conn.scalars(sa.select(publish_events.c.event_id).where(publish_events.c.event_id.in_(ids)))
        )
        fresh = [(k, f, e) for k, f, e in events if e["id"] not in known]
        if not fresh:
            return
        conn.execute(
            sa.insert(publish_events),
            [
                {
                    "event_id": e["id"],
                    "finding_id": fid,
                    "kind": kind,
                    "account_id": e["account"],
                    "region": e["region"],
                    "created_at": at,
                    "body": orjson.dumps(e).decode(),
                }
                for kind, fid, e in fresh
            ],
        )
        rows = [
            {"event_id": e["id"], "target": name, "attempts": 0, "next_attempt_at": at}
            for _, _, e in fresh
            for name in targets.get(e["id"], ())
        ]
        if rows:
            conn.execute(sa.insert(deliveries), rows)


def due(store: Store, target: str, at: datetime, limit: int) -> list[Due]:
    """``target``'s undelivered events whose next attempt is due, oldest first."""
    d, e = deliveries.c, publish_events.c
    with store.transaction("read due deliveries", read=True) as conn:
        rows = conn.execute(
            sa.select(d.event_id, d.attempts, e.body)
            .join(publish_events, e.event_id == d.event_id)
            .where(d.target == target, d.delivered_at.is_(None), d.next_attempt_at <= at)
            .order_by(d.next_attempt_at, e.created_at, d.event_id)
            .limit(limit)
        ).all()
    return [Due(str(eid), target, int(n), orjson.loads(body)) for eid, n, body in rows]


def mark_delivered(store: Store, target: str, event_ids: Sequence[str], at: datetime) -> None:
    with store.transaction("mark deliveries") as conn:
        conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.target == target, deliveries.c.event_id.in_(list(event_ids)))
            .values(delivered_at=at, last_error=None)
        )


def mark_failed(store: Store, item: Due, error: str, retry_at: datetime | None, at: datetime) -> None:
    """One more failed attempt: due again at ``retry_at``, or dead-lettered when it is None."""
    with store.transaction("mark a failed delivery") as conn:
        where = (deliveries.c.target == item.target) & (deliveries.c.event_id == item.event_id)
        if retry_at is not None:
            conn.execute(
                sa.update(deliveries)
                .where(where)
                .values(
                    attempts=item.attempts + 1, next_attempt_at=retry_at, last_error=error, last_failed_at=at
                )
            )
            return
        conn.execute(sa.delete(deliveries).where(where))
        conn.execute(
            sa.delete(dead_letters).where(
                dead_letters.c.target == item.target, dead_letters.c.event_id == item.event_id
            )
        )
        conn.execute(
            sa.insert(dead_letters).values(
                event_id=item.event_id,
                target=item.target,
                attempts=item.attempts + 1,
                last_error=error,
                failed_at=at,
            )
        )


def retry_dead(store: Store, at: datetime, target: str | None = None) -> int:
    """Put dead letters (of ``target``, or all) back to be delivered now; returns how many."""
    with store.transaction("retry dead letters") as conn:
        query = sa.select(dead_letters.c.event_id, dead_letters.c.target)
        if target is not None:
            query = query.where(dead_letters.c.target == target)
        rows = conn.execute(query).all()
        for eid, name in rows:
            conn.execute(
                sa.delete(dead_letters).where(dead_letters.c.event_id == eid, dead_letters.c.target == name)
            )
            conn.execute(
                sa.insert(deliveries).values(event_id=eid, target=name, attempts=0, next_attempt_at=at)
            )
        return len(rows)


@dataclass(frozen=True, slots=True)
class DeliveryStatus:
    """One target's deliveries as ``keibi status`` and ``/metrics`` show them."""

    target: str
    delivered: int
    pending: int
    retrying: int  # pending after at least one failed attempt
    dead: int
    oldest_pending_at: datetime | None
    last_error: str | None


def delivery_status(store: Store) -> list[DeliveryStatus]:
    d = deliveries.c
    with store.transaction("read delivery status", read=True) as conn:
        rows = conn.execute(
            sa.select(
                d.target,
                sa.func.sum(sa.case((d.delivered_at.is_not(None), 1), else_=0)),
                sa.func.sum(sa.case((d.delivered_at.is_(None), 1), else_=0)),
                sa.func.sum(sa.case(((d.delivered_at.is_(None)) & (d.attempts > 0), 1), else_=0)),
                sa.func.min(sa.case((d.delivered_at.is_(None), d.next_attempt_at), else_=None)),
            ).group_by(d.target)
        ).all()
        dead: dict[str, int] = {
            str(name): int(n)
            for name, n in conn.execute(
                sa.select(dead_letters.c.target, sa.func.count()).group_by(dead_letters.c.target)
            )
        }
        # The error of each target's latest failure, retrying or given up.
        failures = conn.execute(
            sa.union_all(
                sa.select(d.target, d.last_error, d.last_failed_at).where(
                    d.last_error.is_not(None), d.delivered_at.is_(None)
                ),
                sa.select(dead_letters.c.target, dead_letters.c.last_error, dead_letters.c.failed_at),
            )
        ).all()
    errors: dict[str, str] = {}
    latest: dict[str, datetime] = {}
    for name, error, at in failures:
        when = as_utc(at)
        if when is not None and (name not in latest or when > latest[name]):
            latest[name], errors[name] = when, str(error)
    out = {
        str(r[0]): DeliveryStatus(
            str(r[0]),
            int(r[1] or 0),
            int(r[2] or 0),
            int(r[3] or 0),
            int(dead.get(r[0], 0)),
            as_utc(r[4]),
            errors.get(r[0]),
        )
        for r in rows
    }
    for name, n in dead.items():
        if name not in out:
            out[name] = DeliveryStatus(str(name), 0, 0, 0, int(n), None, errors.get(name))
    return [out[k] for k in sorted(out)]


def dead_letter_rows(store: Store, limit: int = 100) -> list[dict[str, Any]]:
    t = dead_letters.c
    with store.transaction("read dead letters", read=True) as conn:
        rows = conn.execute(
            sa.select(
                t.event_id, t.target, t.attempts, t.last_error, t.failed_at, publish_events.c.finding_id
            )
            .join(publish_events, publish_events.c.event_id == t.event_id)
            .order_by(t.failed_at.desc())
            .limit(limit)
        ).mappings()
        # str() keys: SQLAlchemy names them quoted_name, a str subclass orjson refuses as a key
        return [{str(k): v for k, v in r.items()} for r in rows]


__all__ = [
    "DeliveryStatus",
    "Due",
    "PublishRow",
    "add_events",
    "dead_letter_rows",
    "delivery_status",
    "due",
    "mark_delivered",
    "mark_failed",
    "pending_updates",
    "publish_rows",
    "retry_dead",
    "upsert_publish_rows",
]
