"""Why a value is on a list: the entries of one list that hold an IP address or a domain.

``keibi intel lookup`` says which lists hold a value and by which entry: the address itself,
a CIDR around it, the domain itself or a parent domain. It asks about one value at a time, so
each list's tables are filtered directly (a scan of millions of entries takes milliseconds);
scans match whole columns through ``keibi.intel.match`` instead. Both read a value the same
way: addresses as ``keibi.intel.addresses`` parses them, domains lower-case without the root
dot or a leading ``*.``. A domain typed in Unicode is taken in its ``xn--`` form, the one
lists and DNS logs hold.

>>> lst = IntelList.from_entries("bad", ["203.0.113.0/24", "203.0.113.9", "evil.example"])
>>> [(e.entry, e.match) for e in entries_holding(lst, "203.0.113.9")]
[('203.0.113.9', 'exact IP'), ('203.0.113.0/24', 'CIDR')]
>>> [(e.entry, e.match) for e in entries_holding(lst, "cdn.Evil.example.")]
[('evil.example', 'parent domain')]
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Final, Literal

import polars as pl

from keibi.errors import ConfigError
from keibi.intel.addresses import address_table, v4_mask, v6_masks
from keibi.intel.lists import IntelList

ValueKind = Literal["ip", "domain"]
MatchKind = Literal["exact IP", "CIDR", "domain", "parent domain"]

_DOMAIN: Final = re.compile(r"^([a-z0-9_]([a-z0-9_-]*[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$")
_V4_MASKS: Final = {p: v4_mask(p) for p in range(33)}
_HI_MASKS: Final = {p: v6_masks(p)[0] for p in range(129)}
_LO_MASKS: Final = {p: v6_masks(p)[1] for p in range(129)}


@dataclass(frozen=True, slots=True)
class Value:
    """A looked-up value as the lists compare it: ``text`` is the address or the normalised
    domain; ``v4`` or ``v6`` (hi, lo halves) hold an address's number."""

    text: str
    kind: ValueKind
    v4: int | None = None
    v6: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry of a list that holds the value: ``entry`` as the list holds it
    (``203.0.113.0/24``, ``evil.example``) and how it matched."""

    entry: str
    match: MatchKind


def parse_value(value: str) -> Value:
    """``value`` as an IP address or a domain name; ``ConfigError`` when it is neither."""
    text = value.strip()
    table = address_table(pl.Series([text], dtype=pl.String()))
    if table.height:
        v4, hi, lo = table["v4"][0], table["hi"][0], table["lo"][0]
        if v4 is not None:
            return Value(text, "ip", v4=int(v4))
        if hi is not None and lo is not None:
            return Value(text, "ip", v6=(int(hi), int(lo)))
    name = text.lower().rstrip(".").removeprefix("*.")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            name = ""
    if not name or len(name) > 253 or not _DOMAIN.match(name) or re.search(r"(^|\.)[0-9]+$", name):
        raise ConfigError(f"{value!r} is not an IP address or a domain name")
    return Value(name, "domain")


def entries_holding(lst: IntelList, value: str | Value) -> list[Entry]:
    """The entries of ``lst`` holding ``value``, most specific first (the address or domain
    itself, then ever wider networks or parent domains)."""
    found = value if isinstance(value, Value) else parse_value(value)
    if found.v4 is not None:
        return _v4_entries(lst.ipv4, found.v4)
    if found.v6 is not None:
        return _v6_entries(lst.ipv6, *found.v6)
    return _domain_entries(lst.domains, found.text)


def _v4_entries(table: pl.DataFrame, address: int) -> list[Entry]:
    mask = pl.col("prefix_len").replace_strict(_V4_MASKS, return_dtype=pl.UInt32)
    hits = table.filter((pl.lit(address, pl.UInt32) & mask) == pl.col("net"))
    out = []
    for net, plen in hits.sort("prefix_len", descending=True).select("net", "prefix_len").iter_rows():
        if plen == 32:
            out.append(Entry(str(ipaddress.IPv4Address(net)), "exact IP"))
        else:
            out.append(Entry(str(ipaddress.IPv4Network((net, plen))), "CIDR"))
    return out


def _v6_entries(table: pl.DataFrame, hi: int, lo: int) -> list[Entry]:
    plen = pl.col("prefix_len")
    hi_mask = plen.replace_strict(_HI_MASKS, return_dtype=pl.UInt64)
    lo_mask = plen.replace_strict(_LO_MASKS, return_dtype=pl.UInt64)
    hits = table.filter(
        ((pl.lit(hi, pl.UInt64) & hi_mask) == pl.col("hi"))
        & ((pl.lit(lo, pl.UInt64) & lo_mask) == pl.col("lo"))
    )
    out = []
    for net_hi, net_lo, length in (
        hits.sort("prefix_len", descending=True).select("hi", "lo", "prefix_len").iter_rows()
    ):
        number = (net_hi << 64) | net_lo
        if length == 128:
            out.append(Entry(str(ipaddress.IPv6Address(number)), "exact IP"))
        else:
            out.append(Entry(str(ipaddress.IPv6Network((number, length))), "CIDR"))
    return out


def _domain_entries(table: pl.DataFrame, name: str) -> list[Entry]:
    labels = name.split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels))]
    domain = pl.col("domain").str.strip_chars().str.to_lowercase().str.strip_chars_end(".")
    hits = table.select(domain.alias("domain")).filter(pl.col("domain").is_in(suffixes)).unique()
    ordered = sorted(hits["domain"].to_list(), key=lambda d: -d.count("."))
    return [Entry(d, "domain" if d == name else "parent domain") for d in ordered]


__all__ = ["Entry", "MatchKind", "Value", "ValueKind", "entries_holding", "parse_value"]
