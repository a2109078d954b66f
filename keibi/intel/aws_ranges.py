"""AWS's own address space (``ip-ranges.json``): is an address inside AWS, and which range says so.

Detectors need this to tell a caller inside AWS (an EC2 instance, a service) from one outside
it, e.g. an instance's credentials used from outside AWS. AWS publishes every prefix it uses,
with its region, service and network border group, at
https://ip-ranges.amazonaws.com/ip-ranges.json.

keibi ships a snapshot as package data, ``keibi/intel/data/aws-ip-ranges.json.gz``: AWS's file
byte for byte, gzipped (syncToken ``1787411825``, createDate ``2026-08-22-15-17-05``; read them
from :attr:`AwsRanges.sync_token` / :attr:`AwsRanges.create_date`). Operators refresh it by
naming a newer download in ``[intel] aws_ip_ranges`` (``keibi.config``), plain or gzipped.

Answering: an address gets the LONGEST prefix holding it (AWS nests ranges: a ``/32`` inside a
service's ``/24`` inside an ``AMAZON`` ``/16``). One prefix is often listed several times,
once under the catch-all ``AMAZON`` and again under the service using it; the reported service
is then the first in this order: ``EC2`` (an instance's address, what the detectors ask about),
any other named service in alphabetical order, ``AMAZON`` last. Matching is one masked hash
join per prefix length (``keibi.intel.match.networks_found``): networks are numbered longest
prefix first, so the smallest number among an address's matches is its longest prefix.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from keibi.errors import ConfigError
from keibi.intel.addresses import ipv4_to_u32, ipv6_to_halves, v4_mask, v6_masks
from keibi.intel.match import networks_found

_IDX = pl.UInt32()
_GZIP_MAGIC: Final = b"\x1f\x8b"
_ENTRY_SCHEMA: Final = {
    "prefix": pl.String(),
    "region": pl.String(),
    "service": pl.String(),
    "network_border_group": pl.String(),
}
# Columns of AwsRanges.entries and of AwsRanges.match (after ``value``).
COLUMNS: Final = ("aws_prefix", "aws_region", "aws_service", "aws_network_border_group")
MATCH_SCHEMA: Final = pl.Schema({"value": pl.String(), **dict.fromkeys(COLUMNS, pl.String())})


@dataclass(frozen=True, eq=False)
class AwsRanges:
    """One ``ip-ranges.json``, held as per-prefix-length join tables.

    ``entries`` has one row per distinct prefix (``aws_prefix`` as AWS writes it,
    ``aws_region``, ``aws_service`` after the choice in the module docstring,
    ``aws_network_border_group``), longest prefixes first; ``v4``/``v6`` map a prefix length to
    the masked networks and their row (``idx``) in ``entries``.

    >>> ranges = builtin_aws_ranges()
    >>> from keibi.intel.addresses import address_table
    >>> ranges.match(address_table(pl.Series(["52.42.146.205", "45.33.32.156"])))["aws_service"].to_list()
    ['EC2']
    """

    sync_token: str
    create_date: str
    source: str
    entries: pl.DataFrame
    v4: dict[int, pl.DataFrame]  # prefix_len -> (net, idx)
    v6: dict[int, pl.DataFrame]  # prefix_len -> (hi, lo, idx)

    def __len__(self) -> int:
        return self.entries.height

    @classmethod
    def load(cls, path: str | Path) -> AwsRanges:
        """Read an ``ip-ranges.json`` (plain or gzipped, told apart by content, not name).

        Raises ``ConfigError`` naming the file when it cannot be read or is not AWS's format.
        """
        where = str(path)
        try:
            data = Path(path).read_bytes()
            if data.startswith(_GZIP_MAGIC):
                data = gzip.decompress(data)
            doc = orjson.loads(data)
        except OSError as exc:
            raise ConfigError(f"cannot read AWS IP ranges: {exc.strerror or exc}", where) from None
        except (EOFError, gzip.BadGzipFile, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"not an AWS ip-ranges.json: {exc}", where) from None
        return cls.from_document(doc, source=where)

    @classmethod
    def from_document(cls, doc: Any, *, source: str) -> AwsRanges:
        """The ranges of an already decoded ``ip-ranges.json`` (``source`` names it in errors)."""
        if not isinstance(doc, dict):
            raise ConfigError("not an AWS ip-ranges.json: expected a JSON object", source)
        for key in ("syncToken", "createDate"):
            if not isinstance(doc.get(key), str | int) or isinstance(doc.get(key), bool):
                raise ConfigError(f"not an AWS ip-ranges.json: no {key!r}", source)
        # IPv4 networks are rows 0.. of entries, IPv6 ones follow; each family longest first.
        v4 = _parsed(_prefixes(doc, "prefixes", "ip_prefix", source, required=True), source, "prefixes", 32)
        v6 = _parsed(
            _prefixes(doc, "ipv6_prefixes", "ipv6_prefix", source, required=False),
            source,
            "ipv6_prefixes",
            128,
        )
        entries = pl.concat([v4.select(*_entry_columns()), v6.select(*_entry_columns())])
        v4 = v4.with_row_index("idx").with_columns(pl.col("idx").cast(_IDX))
        v6 = v6.with_row_index("idx", offset=v4.height).with_columns(pl.col("idx").cast(_IDX))
        return cls(
            sync_token=str(doc["syncToken"]),
            create_date=str(doc["createDate"]),
            source=source,
            entries=entries,
            v4=_by_length(v4, ["net"]),
            v6=_by_length(v6, ["hi", "lo"]),
        )

    def match(self, table: pl.DataFrame) -> pl.DataFrame:
        """``value`` and the :data:`COLUMNS` for the addresses of ``table`` (an
        :func:`~keibi.intel.addresses.address_table`) inside AWS; the others are left out."""
        found = networks_found(table, self.v4, self.v6)
        if found.is_empty():
            return pl.DataFrame(schema=MATCH_SCHEMA)
        return pl.concat([found.select("value"), self.entries[found["idx"]]], how="horizontal")


@cache
def builtin_aws_ranges() -> AwsRanges:
    """The shipped snapshot (loaded once per process)."""
    with as_file(files("keibi.intel").joinpath("data/aws-ip-ranges.json.gz")) as path:
        return AwsRanges.load(path)


def _prefixes(doc: dict[str, Any], key: str, field: str, source: str, *, required: bool) -> pl.DataFrame:
    """``doc[key]`` as a frame of :data:`_ENTRY_SCHEMA` (``field`` read as ``prefix``)."""
    rows = doc.get(key, None if required else [])
    if not isinstance(rows, list):
        raise ConfigError(f"not an AWS ip-ranges.json: {key!r} must be a list", source)
    schema = {field: pl.String(), **{k: v for k, v in _ENTRY_SCHEMA.items() if k != "prefix"}}
    try:
        frame = pl.from_dicts(rows, schema=schema)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as exc:
        raise ConfigError(f"not an AWS ip-ranges.json: {key}: {exc}", source) from None
    return frame.rename({field: "prefix"})


def _parsed(frame: pl.DataFrame, source: str, key: str, bits: int) -> pl.DataFrame:
    """Prefixes parsed, checked and de-duplicated: one row per network, longest first."""
    parts = pl.col("prefix").str.strip_chars().str.split_exact("/", 1)
    addr = parts.struct.field("field_0")
    plen = parts.struct.field("field_1").str.to_integer(strict=False)
    if bits == 32:
        frame = frame.with_columns(net=ipv4_to_u32(addr), prefix_len=plen)
        valid = pl.col("net").is_not_null()
    else:
        hi, lo = ipv6_to_halves(addr)
        frame = frame.with_columns(hi=hi, lo=lo, prefix_len=plen)
        valid = pl.col("hi").is_not_null()
    valid = valid & pl.col("prefix_len").is_between(0, bits)
    bad = frame.with_row_index("i").filter(
        ~valid.fill_null(False) | pl.col("region").is_null() | pl.col("service").is_null()
    )
    if not bad.is_empty():
        row = bad.row(0, named=True)
        raise ConfigError(
            f"not an AWS ip-ranges.json: {key}[{row['i']}]: needs a CIDR, a region and a service, "
            f"got {row['prefix']!r}, {row['region']!r}, {row['service']!r}",
            source,
        )
    lengths = pl.col("prefix_len").cast(pl.UInt8)
    if bits == 32:
        masks = {p: v4_mask(p) for p in range(33)}
        frame = frame.with_columns(pl.col("net") & lengths.replace_strict(masks, return_dtype=pl.UInt32))
        keys = ["net"]
    else:
        hi_masks = {p: v6_masks(p)[0] for p in range(129)}
        lo_masks = {p: v6_masks(p)[1] for p in range(129)}
        frame = frame.with_columns(
            pl.col("hi") & lengths.replace_strict(hi_masks, return_dtype=pl.UInt64),
            pl.col("lo") & lengths.replace_strict(lo_masks, return_dtype=pl.UInt64),
        )
        keys = ["hi", "lo"]
    service = pl.col("service")
    rank = pl.when(service == "EC2").then(0).when(service == "AMAZON").then(2).otherwise(1)
    return (
        frame.with_columns(lengths.alias("prefix_len"), rank.alias("_rank"))
        .sort(
            ["prefix_len", *keys, "_rank", "service", "region"], descending=[True] + [False] * (len(keys) + 3)
        )
        .unique(subset=["prefix_len", *keys], keep="first", maintain_order=True)
        .drop("_rank")
    )


def _entry_columns() -> list[pl.Expr]:
    return [
        pl.col(name).alias(col)
        for name, col in zip(("prefix", "region", "service", "network_border_group"), COLUMNS, strict=True)
    ]


def _by_length(frame: pl.DataFrame, keys: list[str]) -> dict[int, pl.DataFrame]:
    return {
        int(plen[0]): part.select(*keys, "idx")
        for plen, part in frame.partition_by("prefix_len", as_dict=True, maintain_order=True).items()
    }
