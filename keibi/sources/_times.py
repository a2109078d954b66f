"""Timestamps parsed a whole column at a time (never per record in Python)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from keibi.sources.schema import TIME

_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")


def iso_time(col: pl.Expr) -> pl.Expr:
    """ISO-8601 text (``Z``, an offset or none, optional fraction; or ``YYYY-MM-DD HH:MM:SS``) → UTC."""
    return pl.coalesce([col.str.strptime(TIME, fmt, strict=False) for fmt in _FORMATS])


def epoch_seconds(col: pl.Expr) -> pl.Expr:
    """Integer epoch seconds → UTC microseconds."""
    return (col.cast(pl.Int64) * 1_000_000).cast(TIME)


def parse_iso(text: str) -> datetime | None:
    """One timestamp, for peeking at a file's head; None if it is not ISO-8601."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


__all__ = ["epoch_seconds", "iso_time", "parse_iso"]
