"""VPC Flow Log field names (versions 2–8), as AWS spells them in a format string or header."""

from __future__ import annotations

from typing import Final

from keibi.sources.schema import VPC_FLOW

# The default (version 2) format, also the field order of header-less files.
DEFAULT_FORMAT: Final[tuple[str, ...]] = (
    "version",
    "account-id",
    "interface-id",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "protocol",
    "packets",
    "bytes",
    "start",
    "end",
    "action",
    "log-status",
)

# Every documented field, in hyphenated form; each maps to the schema column with "_" for "-".
FIELDS: Final[frozenset[str]] = frozenset(
    name.replace("_", "-") for name in VPC_FLOW if name not in ("event_time", "_file", "_line")
)

LOG_STATUSES: Final = frozenset({"OK", "NODATA", "SKIPDATA"})


def column_of(field: str) -> str | None:
    """The schema column for a header field or Parquet column (hyphens or underscores), or None."""
    name = field.strip().lower().replace("_", "-")
    return name.replace("-", "_") if name in FIELDS else None


__all__ = ["DEFAULT_FORMAT", "FIELDS", "LOG_STATUSES", "column_of"]
