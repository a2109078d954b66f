"""GuardDuty's time strings: ISO 8601 in UTC with a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_millis(value: datetime) -> str:
    """``createdAt``/``updatedAt`` form: ``2020-08-22T09:34:34.146Z``."""
    value = utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def iso_seconds(value: datetime) -> str:
    """``eventFirstSeen``/``eventLastSeen`` form: ``2020-08-22T09:15:57Z`` (logs record whole seconds)."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """Read back any of the forms above (or another ISO 8601 time with an offset) as UTC."""
    return utc(datetime.fromisoformat(text))
