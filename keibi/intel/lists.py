"""Threat and trusted lists in GuardDuty's TXT format, parsed column-wise.

One entry per line: an IPv4 or IPv6 address, a CIDR, or a domain. ``#`` starts a comment
(whole-line or after the entry), blank lines are skipped, ``*.example.org`` is taken as
``example.org``. A domain always covers its subdomains, as in GuardDuty's entity lists, so
``example.org`` and ``*.example.org`` mean the same. A CIDR with host bits set is masked
to its network (``10.1.2.3/8`` is ``10.0.0.0/8``).

Parsing is vectorised, so a list of millions of entries loads in about a second; the first
line that is none of the above stops the load with its line number.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import polars as pl

from keibi.errors import ConfigError
from keibi.intel.addresses import ipv4_to_u32, ipv6_to_halves, v4_mask, v6_masks

ListKind = Literal["threat", "trusted"]

_CIDR: Final = r"^([^/\s]+)(?:/(\d{1,3}))?$"
_DOMAIN: Final = r"^([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$"

IPV4_SCHEMA: Final = pl.Schema({"net": pl.UInt32(), "prefix_len": pl.UInt8()})
IPV6_SCHEMA: Final = pl.Schema({"hi": pl.UInt64(), "lo": pl.UInt64(), "prefix_len": pl.UInt8()})
DOMAIN_SCHEMA: Final = pl.Schema({"domain": pl.String(), "labels": pl.UInt32()})


@dataclass(frozen=True, eq=False)
class IntelList:
    """One threat or trusted list, held as tables ready for joins.

    ``ipv4``: (``net`` UInt32, ``prefix_len`` UInt8), a single address being ``/32``;
    ``ipv6``: (``hi``, ``lo`` UInt64, ``prefix_len``); ``domains``: (``domain``, ``labels``
    = how many dot-separated labels). ``category`` is ``"custom"`` for a user's list and the
    threat family (``"CryptoCurrency"``) for a built-in feed.

    >>> bad = IntelList.from_entries("bad-actors", ["203.0.113.0/24", "*.evil.example"])
    >>> len(bad)
    2
    """

    name: str
    kind: ListKind = "threat"
    category: str = "custom"
    builtin: bool = False
    ipv4: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=IPV4_SCHEMA))
    ipv6: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=IPV6_SCHEMA))
    domains: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=DOMAIN_SCHEMA))
    source: str | None = None

    def __len__(self) -> int:
        return self.ipv4.height + self.ipv6.height + self.domains.height

    @classmethod
    def from_entries(
        cls,
        name: str,
        entries: Iterable[str],
        *,
        kind: ListKind = "threat",
        category: str = "custom",
        builtin: bool = False,
    ) -> IntelList:
        """A list from entries in TXT syntax (for lists built in code and for tests)."""
        return _parse_lines(
            list(entries), where=name, name=name, kind=kind, category=category, builtin=builtin
        )


def load_txt(
    path: str | Path,
    *,
    name: str | None = None,
    kind: ListKind = "threat",
    category: str = "custom",
    builtin: bool = False,
) -> IntelList:
    """Read a TXT list; its name defaults to the file name without extension.

    Raises ``ConfigError`` when the file cannot be read (``cannot read threat list …``) or a
    line is not an entry (``list.txt:12: not an IP, CIDR or domain: 'foo bar'``).
    """
    where = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read {kind} list {where}: {reason}") from None
    lines = text.split("\n")
    list_name = name if name is not None else Path(path).stem
    return _parse_lines(lines, where=where, name=list_name, kind=kind, category=category, builtin=builtin)


def _parse_lines(
    lines: list[str], *, where: str, name: str, kind: ListKind, category: str, builtin: bool
) -> IntelList:
    raw = pl.DataFrame({"raw": pl.Series(lines, dtype=pl.String)}).with_row_index("line", offset=1)
    entry = pl.col("raw").str.replace(r"#.*$", "").str.strip_chars()
    frame = raw.with_columns(entry=entry).filter(pl.col("entry") != "")
    parts = pl.col("entry").str.extract_groups(_CIDR)
    frame = frame.with_columns(
        addr=parts.struct.field("1"),
        prefix_len=parts.struct.field("2").cast(pl.Int64, strict=False),
        has_slash=pl.col("entry").str.contains("/", literal=True),
    )
    hi, lo = ipv6_to_halves(pl.col("addr"))
    host = pl.col("entry").str.to_lowercase().str.strip_chars_end(".").str.strip_prefix("*.")
    frame = frame.with_columns(v4=ipv4_to_u32(pl.col("addr")), hi=hi, lo=lo, host=host)
    plen = pl.col("prefix_len")
    is_v4 = (
        pl.col("v4").is_not_null()
        & (plen.is_null() | (plen <= 32))
        & (plen.is_not_null() | ~pl.col("has_slash"))
    )
    is_v6 = (
        pl.col("hi").is_not_null()
        & (plen.is_null() | (plen <= 128))
        & (plen.is_not_null() | ~pl.col("has_slash"))
    )
    is_domain = (
        ~pl.col("has_slash")
        & pl.col("host").str.contains(_DOMAIN)
        & ~pl.col("host").str.contains(r"(^|\.)\d+$")  # a numeric last label is a broken IP, not a TLD
    )
    frame = frame.with_columns(
        is_v4=is_v4.fill_null(False), is_v6=is_v6.fill_null(False), is_domain=is_domain
    )
    bad = frame.filter(~(pl.col("is_v4") | pl.col("is_v6") | pl.col("is_domain").fill_null(False)))
    if not bad.is_empty():
        line, text = bad.row(0)[0], bad["entry"][0]
        raise ConfigError(f"not an IP, CIDR or domain: {text!r}", where, str(line))

    v4 = frame.filter(pl.col("is_v4")).select("v4", plen.fill_null(32).alias("prefix_len"))
    v4_masks = {p: v4_mask(p) for p in range(33)}
    ipv4 = (
        v4.select(
            (pl.col("v4") & pl.col("prefix_len").replace_strict(v4_masks, return_dtype=pl.UInt32)).alias(
                "net"
            ),
            pl.col("prefix_len").cast(pl.UInt8),
        )
        .unique(maintain_order=True)
        .cast(IPV4_SCHEMA)
    )
    v6 = frame.filter(pl.col("is_v6") & ~pl.col("is_v4")).select(
        "hi", "lo", plen.fill_null(128).alias("prefix_len")
    )
    hi_masks = {p: v6_masks(p)[0] for p in range(129)}
    lo_masks = {p: v6_masks(p)[1] for p in range(129)}
    ipv6 = (
        v6.select(
            (pl.col("hi") & pl.col("prefix_len").replace_strict(hi_masks, return_dtype=pl.UInt64)).alias(
                "hi"
            ),
            (pl.col("lo") & pl.col("prefix_len").replace_strict(lo_masks, return_dtype=pl.UInt64)).alias(
                "lo"
            ),
            pl.col("prefix_len").cast(pl.UInt8),
        )
        .unique(maintain_order=True)
        .cast(IPV6_SCHEMA)
    )
    domains = (
        frame.filter(pl.col("is_domain") & ~pl.col("is_v4") & ~pl.col("is_v6"))
        .select(
            pl.col("host").alias("domain"),
            (pl.col("host").str.count_matches(".", literal=True) + 1).alias("labels"),
        )
        .unique(maintain_order=True)
        .cast(DOMAIN_SCHEMA)
    )
    return IntelList(
        name=name,
        kind=kind,
        category=category,
        builtin=builtin,
        ipv4=ipv4,
        ipv6=ipv6,
        domains=domains,
        source=where,
    )
