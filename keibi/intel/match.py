"""Vectorised list lookups: which list (if any) holds each IP address or domain of a column.

Lists can hold millions of entries and every batch is matched against them, so the tables
are built once per list set and each batch only costs work in proportion to its own distinct
values (a hash join against a five-million-row table pays for the big side on every batch):

- **Addresses.** Each family's networks (single addresses are ``/32`` or ``/128``) become one
  sorted array of disjoint ranges (:class:`RangeTable`), each with the list that wins there.
  CIDRs are either nested or disjoint, so one sweep over their start and end points finds,
  for each stretch of address space, every network covering it; the first list among them
  wins. A batch's distinct addresses are then answered by one ``search_sorted`` per family.
  IPv4 keys are ``UInt32``, IPv6 keys ``UInt128`` (the ``hi``/``lo`` halves side by side).
- **Domains.** Every entry is kept once, with its first list, sorted by a 64-bit hash of its
  name (:class:`DomainTable`). A batch's distinct names are cut into their parent-domain
  suffixes (only the label counts some entry has), which are hashed and looked up with
  ``search_sorted``; a hit is confirmed by comparing the names, so a hash collision between
  a query and an entry never matches. If two entries share a hash, the table keys on the
  names themselves instead. ``a.b.pool.example`` matches an entry ``pool.example``; names
  are compared lower-case, trimmed and without the root dot, as ``xn--`` text (a name in
  Unicode form does not match its punycode entry).

Each lookup runs on the column's distinct values and maps the answer back, so repeated
values cost nothing. When several lists match, the first in the order given wins.
IPv4-mapped IPv6 text (``::ffff:1.2.3.4``) is the IPv4 host and matches IPv4 entries (see
``keibi.intel.addresses``); its hex form (``::ffff:102:304``) is IPv6 and matches IPv6 entries only.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

import orjson
import polars as pl

from keibi import __version__
from keibi.intel.addresses import address_table, normalise_domain, v4_mask, v6_masks
from keibi.intel.lists import IntelList

_IDX = pl.UInt32()
_V4: Final = pl.UInt32()
_V6: Final = pl.UInt128()
_HASH_SEED: Final = 0x6B656962  # any constant: hashes never leave the process
FOUND_SCHEMA: Final = pl.Schema({"value": pl.String(), "idx": _IDX})
MATCHER_FORMAT: Final = 1  # bump when the tables' build or their IPC layout changes
# The IPC layout of ``ThreatListMatcher.to_ipc``: one row, each table column a list.
_IPC_SCHEMA: Final = pl.Schema(
    {
        "format": pl.UInt32(),
        "lists": pl.List(pl.String()),
        "v4_starts": pl.List(_V4),
        "v4_ends": pl.List(_V4),
        "v4_idx": pl.List(_IDX),
        "v6_starts": pl.List(_V6),
        "v6_ends": pl.List(_V6),
        "v6_idx": pl.List(_IDX),
        "domain_key": pl.List(pl.UInt64()),  # or List(String) when the table keys on names
        "domain_name": pl.List(pl.String()),
        "domain_idx": pl.List(_IDX),
        "domain_labels": pl.List(pl.UInt32()),
    }
)


def v6_key(hi: pl.Expr, lo: pl.Expr) -> pl.Expr:
    """The (``hi``, ``lo``) UInt64 halves of IPv6 addresses as one UInt128 that sorts like them."""
    return hi.cast(_V6) * pl.lit(1 << 64, _V6) + lo.cast(_V6)


@dataclass(frozen=True, eq=False)
class RangeTable:
    """One address family's networks as disjoint ranges, sorted, each with its winning list.

    Range ``i`` runs from ``starts[i]`` to ``ends[i]`` (both included); ``idx[i]`` is the
    smallest list index among the networks covering it. Neighbouring ranges with the same
    winner are merged; address space no network covers has no range. An address is looked up
    by finding the last range starting at or before it and checking its end, so a list of
    five million ``/32`` entries is five million ranges (about 60 MB).
    """

    starts: pl.Series  # UInt32 (IPv4) or UInt128 (IPv6), strictly increasing
    ends: pl.Series  # same type, each range's last address
    idx: pl.Series  # UInt32

    @classmethod
    def build(cls, nets: pl.DataFrame, bits: int) -> RangeTable:
        """``nets``: ``key`` (an address of ``bits`` bits), ``prefix_len``, ``idx``.

        Host bits are masked here too, so an unmasked network still covers what its CIDR
        says. The sweep: each network opens at its first address and closes one past its
        last. Sorted by position (at one position: closes before opens, and outer networks
        opening before the ones nested in them), a running sum of +1/-1 is the nesting
        depth after each event, and the network open at depth ``k`` is the latest one opened
        at depth ``k`` (any later one at that depth would have closed it), so a forward fill
        per depth gives every open network's list and the minimum over depths the winner.
        """
        dtype = _V4 if bits == 32 else _V6
        if nets.is_empty():
            empty = pl.Series([], dtype=dtype)
            return cls(empty.alias("starts"), empty.alias("ends"), pl.Series("idx", [], dtype=_IDX))
        top = (1 << bits) - 1
        host = {p: (1 << (bits - p)) - 1 for p in range(bits + 1)}
        plen = pl.col("prefix_len").cast(pl.UInt8)
        host_bits = plen.replace_strict(host, return_dtype=dtype)
        # Eager on purpose: the frame feeds both event kinds, and a lazy plan computed it twice.
        # The same network twice (two lists) needs no de-duplication: the sweep nests them.
        frame = nets.select(
            (pl.col("key").cast(dtype) & ~host_bits).alias("key"),
            plen.alias("plen"),
            pl.col("idx").cast(_IDX),
        ).with_columns(end=pl.col("key") | pl.col("plen").replace_strict(host, return_dtype=dtype))
        order = pl.col("plen").cast(pl.Int16)
        opens = frame.select(
            pl.col("key").alias("pos"), pl.lit(1, pl.Int8).alias("delta"), order.alias("order"), "idx"
        )
        # A network ending at the last address never closes: nothing follows it.
        closes = frame.filter(pl.col("end") != pl.lit(top, dtype)).select(
            (pl.col("end") + pl.lit(1, dtype)).alias("pos"),
            pl.lit(-1, pl.Int8).alias("delta"),
            order.alias("order"),  # any order: closes only lower the depth
            "idx",
        )
        del frame
        events = (
            pl.concat([opens, closes])
            .sort("pos", "delta", "order")
            .with_columns(depth=pl.col("delta").cast(pl.Int32).cum_sum())
        )
        del opens, closes
        winner = pl.Series("winner", [], dtype=_IDX).extend_constant(None, events.height)
        depth, opened = events["depth"], events["delta"] == 1
        deepest = depth.max()
        for k in range(
            1, (deepest if isinstance(deepest, int) else 0) + 1
        ):  # one column at a time: memory stays O(events)
            held = events.select(
                pl.when(opened & (depth == k)).then(pl.col("idx")).forward_fill().alias("held")
            ).to_series()
            held = pl.select(pl.when(depth >= k).then(held)).to_series()
            winner = pl.select(pl.min_horizontal(winner, held)).to_series()
        pos = events["pos"]
        ranges = (
            pl.DataFrame({"pos": pos, "idx": winner})
            .filter(pos.ne_missing(pos.shift(-1)))  # the last event at a position decides its range
            .filter(pl.col("idx").ne_missing(pl.col("idx").shift(1)))  # merge neighbours with one winner
        )
        last = (pl.col("pos").shift(-1) - pl.lit(1, dtype)).fill_null(pl.lit(top, dtype))
        ranges = ranges.with_columns(end=last).filter(pl.col("idx").is_not_null())
        return cls(
            ranges["pos"].cast(dtype).alias("starts"),
            ranges["end"].cast(dtype).alias("ends"),
            ranges["idx"].alias("idx"),
        )

    def __len__(self) -> int:
        return len(self.starts)

    def estimated_size(self) -> int:
        """Bytes held by the table."""
        return int(self.starts.estimated_size() + self.ends.estimated_size() + self.idx.estimated_size())

    def find(self, keys: pl.Series) -> pl.Series:
        """The winning list index for each address key (UInt32 / UInt128), null when none.

        ``keys`` sorted ascending read the table in order and run fastest.
        """
        if not len(self):
            return pl.Series(keys.name, [], dtype=_IDX).extend_constant(None, len(keys))
        after = self.starts.search_sorted(keys, side="right")  # ranges starting at or before
        at = pl.select(pl.when(after > 0).then(after.cast(pl.Int64) - 1)).to_series()
        inside = keys <= self.ends.gather(at)
        return pl.select(pl.when(inside).then(self.idx.gather(at))).to_series().alias(keys.name)


@dataclass(frozen=True, eq=False)
class DomainTable:
    """Every domain entry once, with its first list, sorted by ``key`` for ``search_sorted``.

    ``key`` is a hash of the name, or the name itself when two entries share a hash;
    ``labels`` are the label counts present, so a query is cut only into suffixes that
    some entry could equal.
    """

    key: pl.Series  # UInt64 hash, or String
    domain: pl.Series
    idx: pl.Series
    labels: tuple[int, ...]

    @property
    def hashed(self) -> bool:
        return self.key.dtype == pl.UInt64

    @classmethod
    def build(cls, entries: pl.DataFrame) -> DomainTable:
        """``entries``: ``domain``, ``idx`` (normalised again here, so any list's names compare)."""
        table = (
            entries.lazy()
            .select(normalise_domain(pl.col("domain")).alias("domain"), pl.col("idx").cast(_IDX))
            .filter(pl.col("domain") != "")
            .group_by("domain")
            .agg(pl.col("idx").min())
            .with_columns(
                key=pl.col("domain").hash(_HASH_SEED),
                labels=pl.col("domain").str.count_matches(".", literal=True) + 1,
            )
            .collect()
        )
        if table["key"].n_unique() < table.height:  # a collision: key on the names instead
            table = table.with_columns(key=pl.col("domain"))
        table = table.sort("key")
        labels = tuple(sorted(int(n) for n in table["labels"].unique()))
        return cls(table["key"], table["domain"], table["idx"], labels)

    def __len__(self) -> int:
        return len(self.key)

    def estimated_size(self) -> int:
        """Bytes held by the table."""
        return int(self.key.estimated_size() + self.domain.estimated_size() + self.idx.estimated_size())

    def found(self, domains: pl.Series) -> pl.DataFrame:
        """``value``, ``idx`` for the distinct ``domains`` that an entry equals or is a parent
        of, with the smallest list index among those entries; the others are left out."""
        if not len(self):
            return pl.DataFrame(schema=FOUND_SCHEMA)
        uniq = pl.DataFrame({"value": domains.cast(pl.String).unique().drop_nulls()})
        labels = normalise_domain(pl.col("value")).str.split(".")
        uniq = uniq.with_columns(labels=labels).with_columns(n=pl.col("labels").list.len())
        parts = [
            uniq.lazy()
            .filter(pl.col("n") >= k)
            .select("value", pl.col("labels").list.slice(-k, k).list.join(".").alias("suffix"))
            for k in self.labels
        ]
        cut = pl.concat(parts).collect()
        key = cut["suffix"].hash(_HASH_SEED) if self.hashed else cut["suffix"]
        cut = cut.with_columns(key=key).sort("key")
        at = self.key.search_sorted(cut["key"], side="left").clip(0, len(self) - 1)
        hit = cut.select(
            "value",
            (pl.col("suffix") == self.domain.gather(at)).alias("hit"),
            self.idx.gather(at).alias("idx"),
        ).filter("hit")
        return hit.group_by("value").agg(pl.col("idx").min())


@dataclass(frozen=True, eq=False)
class AddressKeys:
    """The distinct addresses of an :func:`~keibi.intel.addresses.address_table` as sorted
    search keys per family, so several matchers share one preparation per batch.

    ``v4`` / ``v6`` hold the keys in ascending order, ``v4_rows`` / ``v6_rows`` each key's row
    in ``values``; the address texts are only gathered for the few addresses some list holds.
    """

    values: pl.Series
    v4_rows: pl.Series
    v4: pl.Series  # UInt32, ascending
    v6_rows: pl.Series
    v6: pl.Series  # UInt128, ascending

    @classmethod
    def of(cls, table: pl.DataFrame) -> AddressKeys:
        rows = table.select(pl.col("v4"), pl.col("hi"), pl.col("lo")).with_row_index("row")
        four = rows.filter(pl.col("v4").is_not_null()).select("row", pl.col("v4").alias("key")).sort("key")
        six = (
            rows.filter(pl.col("v4").is_null() & pl.col("hi").is_not_null() & pl.col("lo").is_not_null())
            .select("row", v6_key(pl.col("hi"), pl.col("lo")).alias("key"))
            .sort("key")
        )
        return cls(table["value"], four["row"], four["key"], six["row"], six["key"])


@dataclass(frozen=True, eq=False)
class ThreatListMatcher:
    """Lists merged into one range table per address family and one domain table, built once
    per list set.

    >>> m = ThreatListMatcher.build([IntelList.from_entries("bad", ["198.51.100.0/24"])])
    >>> m.match_ips(pl.Series(["198.51.100.7", "192.0.2.1"])).to_list()
    ['bad', None]
    """

    lists: tuple[IntelList, ...]
    v4: RangeTable
    v6: RangeTable
    domains: DomainTable

    @classmethod
    def build(cls, lists: Sequence[IntelList]) -> ThreatListMatcher:
        def indexed(frames: list[pl.DataFrame], schema: Mapping[str, pl.DataType]) -> pl.DataFrame:
            if not frames:
                return pl.DataFrame(schema={**schema, "idx": _IDX})
            return pl.concat(frames)

        def tag(frame: pl.DataFrame, i: int, *columns: pl.Expr) -> pl.DataFrame:
            return frame.select(*columns, pl.lit(i, _IDX).alias("idx"))

        plen = pl.col("prefix_len").cast(pl.UInt8)
        v4 = [
            tag(lst.ipv4, i, pl.col("net").alias("key"), plen)
            for i, lst in enumerate(lists)
            if lst.ipv4.height
        ]
        v6 = [
            tag(lst.ipv6, i, v6_key(pl.col("hi"), pl.col("lo")).alias("key"), plen)
            for i, lst in enumerate(lists)
            if lst.ipv6.height
        ]
        dom = [tag(lst.domains, i, pl.col("domain")) for i, lst in enumerate(lists) if lst.domains.height]
        return cls(
            lists=tuple(lists),
            v4=RangeTable.build(indexed(v4, {"key": _V4, "prefix_len": pl.UInt8()}), 32),
            v6=RangeTable.build(indexed(v6, {"key": _V6, "prefix_len": pl.UInt8()}), 128),
            domains=DomainTable.build(indexed(dom, {"domain": pl.String()})),
        )

    def to_ipc(self) -> bytes:
        """The built tables as one Arrow IPC file (zstd), for :meth:`from_ipc` in a later run:
        reading them back takes a fraction of building them from millions of entries. The
        lists themselves are not included, only their names (to check they are the same)."""
        columns = {
            "format": pl.Series([MATCHER_FORMAT], dtype=pl.UInt32),
            "lists": pl.Series([lst.name for lst in self.lists], dtype=pl.String).implode(),
            "v4_starts": self.v4.starts.implode(),
            "v4_ends": self.v4.ends.implode(),
            "v4_idx": self.v4.idx.implode(),
            "v6_starts": self.v6.starts.implode(),
            "v6_ends": self.v6.ends.implode(),
            "v6_idx": self.v6.idx.implode(),
            "domain_key": self.domains.key.implode(),
            "domain_name": self.domains.domain.implode(),
            "domain_idx": self.domains.idx.implode(),
            "domain_labels": pl.Series(self.domains.labels, dtype=pl.UInt32).implode(),
        }
        out = io.BytesIO()
        pl.DataFrame(columns).write_ipc(out, compression="zstd")
        return out.getvalue()

    @classmethod
    def from_ipc(cls, blob: bytes, lists: Sequence[IntelList]) -> ThreatListMatcher:
        """The matcher of ``lists`` from the tables :meth:`to_ipc` wrote for them.

        Raises ``ValueError`` when ``blob`` is not such a file, is of another
        :data:`MATCHER_FORMAT`, names other lists, or holds inconsistent tables; the caller
        then builds the tables afresh. Whether the lists' *content* is the one the tables
        were built from is the caller's key to decide (:func:`matcher_key`); a blob damaged
        in storage is caught there too (its digest), as a damaged file may still decode.
        """
        try:
            frame = pl.read_ipc(io.BytesIO(blob))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # Polars panics on some bad input: pyo3's PanicException
            raise ValueError(f"not a match table file: {exc}") from None
        key_dtype = frame.schema.get("domain_key")
        schema = (
            pl.Schema({**_IPC_SCHEMA, "domain_key": key_dtype})
            if key_dtype == pl.List(pl.String)
            else _IPC_SCHEMA
        )
        if frame.schema != schema or frame.height != 1:
            raise ValueError("not a match table file: unexpected columns")
        row = {name: frame[name][0] for name in frame.columns}
        if row["format"] != MATCHER_FORMAT:
            raise ValueError(f"match tables of format {row['format']}, expected {MATCHER_FORMAT}")
        names = [lst.name for lst in lists]
        if row["lists"].to_list() != names:
            raise ValueError(f"match tables of lists {row['lists'].to_list()}, expected {names}")
        v4 = RangeTable(
            row["v4_starts"].alias("starts"), row["v4_ends"].alias("ends"), row["v4_idx"].alias("idx")
        )
        v6 = RangeTable(
            row["v6_starts"].alias("starts"), row["v6_ends"].alias("ends"), row["v6_idx"].alias("idx")
        )
        domains = DomainTable(
            row["domain_key"].alias("key"),
            row["domain_name"].alias("domain"),
            row["domain_idx"].alias("idx"),
            tuple(int(n) for n in row["domain_labels"]),
        )
        for columns in (
            (v4.starts, v4.ends, v4.idx),
            (v6.starts, v6.ends, v6.idx),
            (domains.key, domains.domain, domains.idx),
        ):
            if len({len(c) for c in columns}) != 1 or columns[0].null_count() or columns[2].null_count():
                raise ValueError("match tables of unequal lengths or with gaps")
            top = columns[2].max()
            if top is not None and not (isinstance(top, int) and top < len(names)):
                raise ValueError("match tables point past the lists")
        return cls(lists=tuple(lists), v4=v4, v6=v6, domains=domains)

    @property
    def has_ips(self) -> bool:
        return bool(len(self.v4) or len(self.v6))

    @property
    def has_domains(self) -> bool:
        return bool(len(self.domains))

    def estimated_size(self) -> int:
        """Bytes held by the match tables (the lists' own tables not counted)."""
        return self.v4.estimated_size() + self.v6.estimated_size() + self.domains.estimated_size()

    def ip_found(self, table: pl.DataFrame | AddressKeys) -> pl.DataFrame:
        """``value``, ``idx``: the addresses of ``table`` (an ``address_table``, or its
        :class:`AddressKeys`) that some list holds, with the index of the first such list;
        addresses on no list are left out."""
        keys = table if isinstance(table, AddressKeys) else AddressKeys.of(table)
        parts = []
        for rows, found, ranges in ((keys.v4_rows, keys.v4, self.v4), (keys.v6_rows, keys.v6, self.v6)):
            if len(found) and len(ranges):
                idx = ranges.find(found)
                held = idx.is_not_null()
                parts.append(
                    pl.DataFrame({"value": keys.values.gather(rows.filter(held)), "idx": idx.filter(held)})
                )
        return pl.concat(parts) if parts else pl.DataFrame(schema=FOUND_SCHEMA)

    def domain_found(self, domains: pl.Series) -> pl.DataFrame:
        """``value``, ``idx`` for the distinct ``domains`` that some list holds (itself or a
        parent domain), with the index of the first such list; the others are left out."""
        return self.domains.found(domains)

    def ip_index(self, ips: pl.Series) -> pl.Series:
        """Index (into ``lists``) of the first list holding each address, or null."""
        text = ips.cast(pl.String)
        if not self.has_ips:
            return _nulls(ips.name, len(ips))
        return _map_back(text, self.ip_found(address_table(text)))

    def domain_index(self, domains: pl.Series) -> pl.Series:
        """Index of the first list holding each domain or one of its parent domains, or null."""
        text = domains.cast(pl.String)
        if not self.has_domains:
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


def matcher_key(lists: Sequence[IntelList]) -> str | None:
    """The content address of the match tables of ``lists`` (SHA-256, hex), under which they
    may be kept between runs; ``None`` when a list has no ``version`` (its content has no name).

    The key covers, in match order, each list's kind, name, version and table sizes (so the
    same bytes parsed another way, e.g. in another format, do not share tables), plus
    :data:`MATCHER_FORMAT`, keibi's version (a new release builds its own tables) and Polars'
    (the domain table's keys are Polars hashes, which Polars does not promise to keep).
    """
    if any(lst.version is None for lst in lists):
        return None
    digest = hashlib.sha256(
        f"keibi {__version__} polars {pl.__version__} match tables {MATCHER_FORMAT}".encode()
    )
    for lst in lists:
        sizes = (lst.ipv4.height, lst.ipv6.height, lst.domains.height)
        digest.update(orjson.dumps([lst.kind, lst.name, lst.version, *sizes]) + b"\n")
    return digest.hexdigest()


def networks_found(
    table: pl.DataFrame, v4: Mapping[int, pl.DataFrame], v6: Mapping[int, pl.DataFrame]
) -> pl.DataFrame:
    """``value``, ``idx``: the addresses of ``table`` (from ``address_table``) inside some network
    of the join tables, with the smallest ``idx`` among the networks holding each; addresses in
    none are left out.

    ``v4`` maps a prefix length to (``net`` UInt32, ``idx`` UInt32), ``v6`` to (``hi``, ``lo``
    UInt64, ``idx``), networks already masked. The caller's ``idx`` order decides which match
    wins: list order for threat lists, longest prefix first for AWS's ranges. One masked hash
    join per prefix length: right for a table of thousands of networks (AWS's ranges) matched
    once per batch; threat lists, which can hold millions, use :class:`RangeTable` instead.
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
    if not parts:
        return pl.DataFrame(schema=FOUND_SCHEMA)
    return pl.concat(parts).group_by("value").agg(pl.col("idx").min()).collect()


def _nulls(name: str, n: int) -> pl.Series:
    return pl.Series(name, [], dtype=_IDX).extend_constant(None, n)


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
