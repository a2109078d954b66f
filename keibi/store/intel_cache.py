"""Work derived from threat lists, kept in the store so the next scan need not redo it.

Two kinds of entries live in the ``intel_cache`` table, each under a key that names exactly
what it was derived from, so an entry is never stale, only unused (the least recently used
go, ``Store.cache_intel``):

- ``"matcher"``: a list set's built match tables (``ThreatListMatcher.to_ipc``), keyed by
  ``keibi.intel.match.matcher_key``. The store is the ``MatcherCache`` of ``Intel.prepare``.
- ``"list"``: a list file's parsed tables, keyed by the SHA-256 of its bytes and its format
  (:func:`list_key`): a file read by path (keibi.toml, ``--threat-list``, ``--feed``) whose
  bytes the store has seen before is not parsed again (:func:`parsed_list`).

Both keys include keibi's version, so a release that parses or builds differently starts
afresh. Small files are not cached (:data:`LIST_CACHE_MIN_BYTES`): they parse faster than a
store round trip, and would only push the big ones out.
"""

from __future__ import annotations

import hashlib
import io
from typing import Final

import polars as pl

from keibi import __version__
from keibi.intel import IntelList, ListKind, parse_list
from keibi.store._intel import TABLE_SCHEMAS, decode_problems, encode_problems
from keibi.store.store import Store

LIST_KIND: Final = "list"
MATCHER_KIND: Final = "matcher"
LIST_FORMAT: Final = 1  # bump when the cached layout of a parsed list changes
LIST_CACHE_MIN_BYTES: Final = 1 << 20  # a smaller file parses in tens of milliseconds
_UNCACHED_FORMATS: Final = frozenset({"STIX"})  # parsed with the time (expired indicators)


def list_key(sha256: str, fmt: str) -> str:
    """The cache key of the tables parsed from bytes with SHA-256 ``sha256`` (hex) in ``fmt``."""
    text = f"keibi {__version__} parsed list {LIST_FORMAT} {fmt.strip().upper()} {sha256}"
    return hashlib.sha256(text.encode()).hexdigest()


def encode_list(lst: IntelList) -> bytes:
    """A parsed list's tables and problems as one Arrow IPC file (zstd): one row, a list
    column per table column (``ipv4.net``, …), and ``problems`` as JSON."""
    columns: dict[str, pl.Series] = {"format": pl.Series([LIST_FORMAT], dtype=pl.UInt32)}
    for table, schema in TABLE_SCHEMAS.items():
        frame = getattr(lst, table).cast(schema)
        columns |= {f"{table}.{name}": frame[name].implode() for name in schema}
    columns["problems"] = pl.Series([encode_problems(lst.problems)], dtype=pl.String)
    out = io.BytesIO()
    pl.DataFrame(columns).write_ipc(out, compression="zstd")
    return out.getvalue()


def decode_list(
    blob: bytes, *, name: str, kind: ListKind, category: str, where: str, version: str | None
) -> IntelList:
    """The list :func:`encode_list` wrote, under this ``name`` and source; problems name
    ``where``. Raises ``ValueError`` when ``blob`` is not such a file."""
    try:
        frame = pl.read_ipc(io.BytesIO(blob))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # Polars panics on some bad input: pyo3's PanicException
        raise ValueError(f"not a parsed list file: {exc}") from None
    expected = {"format": pl.UInt32(), "problems": pl.String()}
    for table, schema in TABLE_SCHEMAS.items():
        expected |= {f"{table}.{column}": pl.List(dtype) for column, dtype in schema.items()}
    if dict(frame.schema) != expected or frame.height != 1 or frame["format"][0] != LIST_FORMAT:
        raise ValueError("not a parsed list file of this keibi")
    tables = {}
    for table, schema in TABLE_SCHEMAS.items():
        parts = {column: frame[f"{table}.{column}"][0] for column in schema}
        if len({len(part) for part in parts.values()}) != 1:
            raise ValueError(f"parsed list file with a broken {table} table")
        tables[table] = pl.DataFrame(parts)
    return IntelList(
        name=name,
        kind=kind,
        category=category,
        ipv4=tables["ipv4"],
        ipv6=tables["ipv6"],
        domains=tables["domains"],
        source=where,
        version=version,
        problems=decode_problems(frame["problems"][0], where),
    )


def parsed_list(
    store: Store | None,
    data: bytes,
    fmt: str,
    *,
    where: str,
    name: str,
    kind: ListKind = "threat",
    category: str = "custom",
    version: str | None = None,
) -> IntelList:
    """``keibi.intel.parse_list`` of ``data``, through the store's cache when ``store`` is
    given: the tables of bytes parsed before are read back, others parsed and kept."""
    fmt_name = fmt.strip().upper()
    if store is None or len(data) < LIST_CACHE_MIN_BYTES or fmt_name in _UNCACHED_FORMATS:
        return parse_list(data, fmt, where=where, name=name, kind=kind, category=category, version=version)
    key = list_key(hashlib.sha256(data).hexdigest(), fmt_name)
    blob = store.cached_intel(LIST_KIND, key)
    if blob is not None:
        try:
            return decode_list(blob, name=name, kind=kind, category=category, where=where, version=version)
        except ValueError:
            pass  # parsed again and saved over it below
    lst = parse_list(data, fmt, where=where, name=name, kind=kind, category=category, version=version)
    store.cache_intel(LIST_KIND, key, encode_list(lst))
    return lst


__all__ = [
    "LIST_CACHE_MIN_BYTES",
    "LIST_FORMAT",
    "LIST_KIND",
    "MATCHER_KIND",
    "decode_list",
    "encode_list",
    "list_key",
    "parsed_list",
]
