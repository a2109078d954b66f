"""Tags of the API's resources (detectors, filters, lists, publishing destinations), by ARN."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keibi.store.store import Store
from keibi.store.tables import api_lists, filters, publishing_destinations, tags


def resource_tags(store: Store, arn: str) -> dict[str, str]:
    with store.transaction("read tags", read=True) as conn:
        rows = conn.execute(sa.select(tags.c.key, tags.c.value).where(tags.c.arn == arn).order_by(tags.c.key))
        return {str(k): str(v) for k, v in rows}


def tag_resource(store: Store, arn: str, new: Mapping[str, str]) -> None:
    """Add ``new`` to the resource's tags, replacing the values of keys it already has."""
    if not new:
        return
    with store.transaction("write tags") as conn:
        add_tags(conn, arn, new)


def add_tags(conn: Connection, arn: str, new: Mapping[str, str]) -> None:
    """``tag_resource`` inside a transaction of the caller's (one that creates the resource)."""
    if new:
        conn.execute(sa.delete(tags).where(tags.c.arn == arn, tags.c.key.in_(list(new))))
        conn.execute(sa.insert(tags), [{"arn": arn, "key": k, "value": v} for k, v in new.items()])


def drop_tags(conn: Connection, arn: str) -> None:
    """Every tag of a resource being deleted, inside the transaction deleting it."""
    conn.execute(sa.delete(tags).where(tags.c.arn == arn))


def untag_resource(store: Store, arn: str, keys: Sequence[str]) -> None:
    with store.transaction("delete tags") as conn:
        conn.execute(sa.delete(tags).where(tags.c.arn == arn, tags.c.key.in_(list(keys))))


def resource_exists(store: Store, detector_id: str, kind: str, name: str) -> bool:
    """Whether the detector's ``kind`` resource (``filter``, ``ipset``, ``threatintelset``,
    ``trustedentityset``, ``threatentityset``, ``publishingDestination``) named ``name`` exists."""
    if kind == "filter":
        where = sa.select(filters.c.name).where(filters.c.detector_id == detector_id, filters.c.name == name)
    elif kind == "publishingDestination":
        t = publishing_destinations
        where = sa.select(t.c.destination_id).where(
            t.c.detector_id == detector_id, t.c.destination_id == name
        )
    elif kind in ("ipset", "threatintelset", "trustedentityset", "threatentityset"):
        where = sa.select(api_lists.c.list_id).where(
            api_lists.c.detector_id == detector_id, api_lists.c.list_id == name
        )
    else:
        return False
    with store.transaction("read resource", read=True) as conn:
        return conn.execute(where).first() is not None
