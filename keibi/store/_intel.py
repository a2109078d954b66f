"""Stored lists ↔ rows: checking a definition, encoding a parsed list's tables as Arrow IPC."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl
from sqlalchemy import RowMapping

from keibi.errors import ConfigError, InputError
from keibi.intel import FEED_CATEGORIES, IntelList
from keibi.intel.catalogue import FEEDS
from keibi.intel.fetch import SCHEMES, scheme_of
from keibi.intel.formats import LIST_FORMATS
from keibi.intel.lists import DOMAIN_SCHEMA, IPV4_SCHEMA, IPV6_SCHEMA
from keibi.store.intel_lists import AWS_RANGES_FORMAT, AWS_RANGES_LIST, IntelListRecord, IntelListSpec

PROBLEMS_KEPT: Final = 1000  # bad entries remembered per version (the count is always exact)
TABLE_SCHEMAS: Final = {"ipv4": IPV4_SCHEMA, "ipv6": IPV6_SCHEMA, "domains": DOMAIN_SCHEMA}


def checked(spec: IntelListSpec) -> IntelListSpec:
    """``spec`` if it is a valid definition (a local path made absolute), else ``ConfigError``
    naming the list and what is wrong."""
    where = f"intel list {spec.name!r}"
    name = spec.name
    if not name or len(name) > 128 or any(c.isspace() or not c.isprintable() for c in name):
        raise ConfigError(f"a list name is 1 to 128 printable characters without spaces, not {name!r}")
    if spec.kind not in ("threat", "trusted", "aws"):
        raise ConfigError(f"kind must be threat or trusted, not {spec.kind!r}", where)
    is_aws = (spec.kind == "aws", name == AWS_RANGES_LIST, spec.format == AWS_RANGES_FORMAT)
    if any(is_aws) and not all(is_aws):
        raise ConfigError(
            f"{AWS_RANGES_LIST!r} is reserved for AWS's ip-ranges.json (kind 'aws', format {AWS_RANGES_FORMAT})",
            where,
        )
    if not any(is_aws) and spec.format not in LIST_FORMATS:
        raise ConfigError(
            f"unknown format {spec.format!r} (expected one of: {', '.join(LIST_FORMATS)})", where
        )
    if spec.category != "custom" and spec.category not in FEED_CATEGORIES:
        raise ConfigError(
            f"unknown category {spec.category!r} (expected custom or one of: {', '.join(FEED_CATEGORIES)})",
            where,
        )
    if spec.kind != "threat" and spec.category != "custom":
        raise ConfigError(f"a {spec.kind} list has no threat category; got {spec.category!r}", where)
    if spec.feed is not None and spec.feed not in FEEDS:
        raise ConfigError(f"no feed named {spec.feed!r} in the catalogue", where)
    if spec.refresh_minutes is not None and (
        isinstance(spec.refresh_minutes, bool) or spec.refresh_minutes < 1
    ):
        raise ConfigError(f"refresh_minutes must be at least 1, not {spec.refresh_minutes!r}", where)
    location = spec.location.strip()
    scheme = scheme_of(location)
    if not location or scheme not in SCHEMES:
        raise ConfigError(
            f"cannot fetch {location!r}: use a local path, file://, http://, https:// or s3://", where
        )
    if scheme == "file" and not location.lower().startswith("file://"):
        location = str(Path(location).expanduser().resolve())
    return IntelListSpec(
        name=name,
        kind=spec.kind,
        format=spec.format,
        location=location,
        category=spec.category,
        active=spec.active,
        feed=spec.feed,
        refresh_minutes=spec.refresh_minutes,
    )


def spec_row(spec: IntelListSpec, at: datetime) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind,
        "format": spec.format,
        "location": spec.location,
        "category": spec.category,
        "active": spec.active,
        "feed": spec.feed,
        "refresh_minutes": spec.refresh_minutes,
        "added_at": at,
    }


def record(row: RowMapping, previous: str | None) -> IntelListRecord:
    """The record of an ``intel_lists`` row (``previous``: the version kept before the current)."""
    return IntelListRecord(
        name=row["name"],
        kind=row["kind"],
        format=row["format"],
        location=row["location"],
        category=row["category"],
        active=bool(row["active"]),
        feed=row["feed"],
        refresh_minutes=row["refresh_minutes"],
        added_at=row["added_at"],
        version=row["version"],
        previous_version=previous,
        sha256=row["sha256"],
        entries=row["entries"],
        problems=row["problems"],
        etag=row["etag"],
        last_modified=row["last_modified"],
        fetched_at=row["fetched_at"],
        checked_at=row["checked_at"],
        last_error=row["last_error"],
    )


def _ipc(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer, compression="zstd")
    return buffer.getvalue()


def encode_tables(lst: IntelList) -> dict[str, bytes]:
    """The list's join tables, each an Arrow IPC file (zstd): millions of rows load in
    milliseconds, no re-parse."""
    return {column: _ipc(getattr(lst, column).cast(schema)) for column, schema in TABLE_SCHEMAS.items()}


def decode_tables(row: RowMapping) -> dict[str, pl.DataFrame]:
    out: dict[str, pl.DataFrame] = {}
    for column, schema in TABLE_SCHEMAS.items():
        blob = row[column]
        out[column] = pl.DataFrame(schema=schema) if blob is None else pl.read_ipc(bytes(blob)).cast(schema)
    return out


def intel_list(row: RowMapping) -> IntelList:
    """The list a version row holds (joined with its ``intel_lists`` row)."""
    tables = decode_tables(row)
    return IntelList(
        name=row["name"],
        kind=row["kind"],
        category=row["category"],
        ipv4=tables["ipv4"],
        ipv6=tables["ipv6"],
        domains=tables["domains"],
        source=row["location"],
        version=row["version"],
        problems=decode_problems(row["problem_lines"], row["location"]),
    )


def encode_problems(problems: tuple[InputError, ...]) -> str:
    return orjson.dumps([[p.line, p.reason] for p in problems[:PROBLEMS_KEPT]]).decode()


def decode_problems(text: str, where: str) -> tuple[InputError, ...]:
    return tuple(InputError(where, line, reason) for line, reason in orjson.loads(text))


__all__ = [
    "PROBLEMS_KEPT",
    "checked",
    "decode_problems",
    "decode_tables",
    "encode_problems",
    "encode_tables",
    "intel_list",
    "record",
    "spec_row",
]
