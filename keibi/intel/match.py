"""Vectorised list lookups: which list (if any) holds each IP address or domain of a column.

CIDRs: one masked hash join per distinct prefix length in the lists (at most 33 for IPv4,
129 for IPv6), so a million addresses against a hundred thousand networks is a handful of
joins, and the join keeps which list matched. Domains: one join per label count, of the
column's last-k-labels suffix against the entries with k labels, so ``a.b.pool.example``
matches an entry ``pool.example``. Each lookup runs on the column's distinct values and maps
the answer back, so repeated addresses cost nothing.

When several lists match, the first in the order given wins.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import polars as pl

from keibi.intel.addresses import address_table, normalise_domain, v4_mask, v6_masks
from keibi.intel.lists import IntelList

_IDX = pl.UInt32()


@dataclass(frozen=True, eq=False)
class ThreatListMatcher:
    """Lists merged into per-prefix and per-label-count join tables, built once per list set.

    >>> m = ThreatListMatcher.build([IntelList.from_entries("bad", ["198.51.100.0/24"])])
    >>> m.match_ips(pl.Series(["198.51.100.7", "192.0.2.1"])).to_list()
    ['bad', None]
    """

    lists: tuple[IntelList, ...]
    v4: dict[int, pl.DataFrame]  # prefix_len -> (net, idx)
    v6: dict[int, pl.DataFrame]  # prefix_len -> (hi, lo, idx)
    domains: dict[int, pl.DataFrame]  # label count -> (domain, idx)

    @classmethod
    def build(cls, lists: Sequence[IntelList]) -> ThreatListMatcher:
        def tables(parts: list[pl.DataFrame], by: str, keys: list[str]) -> dict[int, pl.DataFrame]:
            if not parts:
                return {}
            merged = pl.concat(parts).group_by(by, *keys).agg(pl.col("idx").min())
            return {int(k[0]): f.drop(by) for k, f in merged.partition_by(by, as_dict=True).items()}

        def indexed(frame: pl.DataFrame, i: int) -> pl.DataFrame:
            return frame.with_columns(pl.lit(i, _IDX).alias("idx"))

        v4 = [indexed(lst.ipv4, i) for i, lst in enumerate(lists) if lst.ipv4.height]
        v6 = [indexed(lst.ipv6, i) for i, lst in enumerate(lists) if lst.ipv6.height]
        dom = [indexed(lst.domains, i) for i, lst in enumerate(lists) if lst.domains.height]
        return cls(
            lists=tuple(lists),
            v4=tables(v4, "prefix_len", ["net"]),
            v6=tables(v6, "prefix_len", ["hi", "lo"]),
            domains=tables(dom, "labels", ["domain"]),
        )

    def ip_found(self, table: pl.DataFrame) -> pl.DataFrame:
        """``value``, ``idx``: the addresses of ``table`` (from ``address_table``) that some list
        holds, with the index of the first such list; addresses on no list are left out."""
        return networks_found(table, self.v4, self.v6)

    def domain_found(self, domains: pl.Series) -> pl.DataFrame:
        """``value``, ``idx`` for the distinct ``domains`` that some list holds (itself or a
        parent domain), with the index of the first such list; the others are left out."""
        labels = normalise_domain(pl.col("value")).str.split(".")
        uniq = pl.DataFrame({"value": domains.cast(pl.String).unique()}).drop_nulls().lazy()
        uniq = uniq.with_columns(labels=labels)
        parts = [
            uniq.select("value", pl.col("labels").list.slice(-k, k).list.join(".").alias("domain"))
            .join(table.lazy(), on="domain")
            .select("value", "idx")
            for k, table in self.domains.items()
        ]
        return _first(parts)

    def ip_index(self, ips: pl.Series) -> pl.Series:
        """Index (into ``lists``) of the first list holding each address, or null."""
        text = ips.cast(pl.String)
        if not (self.v4 or self.v6):
            return _nulls(ips.name, len(ips))
        return _map_back(text, self.ip_found(address_table(text)))

    def domain_index(self, domains: pl.Series) -> pl.Series:
        """Index of the first list holding each domain or one of its parent domains, or null."""
        text = domains.cast(pl.String)
        if not self.domains:
            return _nulls(domains.name, len(domains))
        return _map_back(text, self.domain_found(text))

    def names(self, index: pl.Series) -> pl.Series:
        """List names for indexes from :meth:`ip_index` / :meth:`domain_index`."""
        return self._attr(index, [lst.name for lst in self.lists])

    def categories(self, index: pl.Series) -> pl.Series:
        return self._attr(index, [lst.category for lst in self.lists])

    def _attr(self, index: pl.Series, values: list[str]) -> pl.Series:
        mapping = pl.Series(values, dtype=pl.String)
        return index.replace_strict(
            pl.Series(range(len(values)), dtype=_IDX), mapping, default=None, return_dtype=pl.String
        )

    def match_ips(self, ips: pl.Series) -> pl.Series:
        """Name of the first list holding each address, or null."""
        return self.names(self.ip_index(ips)).alias(ips.name)

    def match_domains(self, domains: pl.Series) -> pl.Series:
        """Name of the first list holding each domain (or a parent domain), or null."""
        return self.names(self.domain_index(domains)).alias(domains.name)


FOUND_SCHEMA: Final = pl.Schema({"value": pl.String(), "idx": _IDX})


def networks_found(
    table: pl.DataFrame, v4: Mapping[int, pl.DataFrame], v6: Mapping[int, pl.DataFrame]
) -> pl.DataFrame:
    """``value``, ``idx``: the addresses of ``table`` (from ``address_table``) inside some network
    of the join tables, with the smallest ``idx`` among the networks holding each; addresses in
    none are left out.

    ``v4`` maps a prefix length to (``net`` UInt32, ``idx`` UInt32), ``v6`` to (``hi``, ``lo``
    UInt64, ``idx``), networks already masked. The caller's ``idx`` order decides which match
    wins: list order for threat lists, longest prefix first for AWS's ranges.
    """
    uniq = table.lazy()
    parts: list[pl.LazyFrame] = []
    # A family absent from the batch (no IPv6 at all, the usual case) costs no joins, not
    # even the planning of one per prefix length.
    has_v4 = table["v4"].null_count() < table.height
    has_v6 = table["hi"].null_count() < table.height
    addrs4 = uniq.filter(pl.col("v4").is_not_null())
    for plen, nets in v4.items() if has_v4 else ():
        masked = addrs4.select("value", (pl.col("v4") & pl.lit(v4_mask(plen), pl.UInt32)).alias("net"))
        parts.append(masked.join(nets.lazy(), on="net").select("value", "idx"))
    addrs6 = uniq.filter(pl.col("v4").is_null() & pl.col("hi").is_not_null())
    for plen, nets in v6.items() if has_v6 else ():
        mhi, mlo = v6_masks(plen)
        masked = addrs6.select(
            "value",
            (pl.col("hi") & pl.lit(mhi, pl.UInt64)).alias("hi"),
            (pl.col("lo") & pl.lit(mlo, pl.UInt64)).alias("lo"),
        )
        parts.append(masked.join(nets.lazy(), on=["hi", "lo"]).select("value", "idx"))
    return _first(parts)


def _nulls(name: str, n: int) -> pl.Series:
    return pl.Series(name, [], dtype=_IDX).extend_constant(None, n)


def _first(parts: list[pl.LazyFrame]) -> pl.DataFrame:
    if not parts:
        return pl.DataFrame(schema=FOUND_SCHEMA)
    return pl.concat(parts).group_by("value").agg(pl.col("idx").min()).collect()


def _map_back(text: pl.Series, found: pl.DataFrame) -> pl.Series:
    if found.is_empty():
        return _nulls(text.name, len(text))
    return text.replace_strict(found["value"], found["idx"], default=None, return_dtype=_IDX)


def match_ips(ips: pl.Series, lists: Sequence[IntelList]) -> pl.Series:
    """Name of the first of ``lists`` holding each address (exact, or inside a CIDR), or null."""
    return ThreatListMatcher.build(lists).match_ips(ips)


def match_domains(domains: pl.Series, lists: Sequence[IntelList]) -> pl.Series:
    """Name of the first of ``lists`` holding each domain or a parent domain, or null."""
    return ThreatListMatcher.build(lists).match_domains(domains)
