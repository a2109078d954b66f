"""The one lookup every enrichment uses: trusted lists, user threat lists, built-in feeds.

``Intel.lookup`` answers, for a column of IP addresses or domains, four columns: on a trusted
list, first user threat list, first built-in feed and that feed's category. A trusted match
wins: the threat columns are then null, as GuardDuty generates no finding for an entry that
is on both a trusted and a threat list.

A list may belong to some (account, region) pairs only (``IntelList.scope``: the API's lists,
``keibi.store.api_lists``). Given the records' ``owners`` (their ``account_id`` and ``region``),
``lookup`` matches the rows of each scope present in the batch against that scope's lists too,
and merges: trusted on any list, the first threat match (unscoped lists first), and a trusted
match still wins. Without scoped lists, or without ``owners``, only unscoped lists are matched
and nothing else is done.

``Intel.aws_lookup`` answers, for a column of IP addresses, whether each is inside AWS's
published ranges (``keibi.intel.aws_ranges``) and which prefix, region and service say so.

``Intel.geo`` places remote addresses (country, city, coordinates, ASN; ``keibi.intel.geo``)
when findings are built; detectors do not use it.

Match tables are built on first use, once per list set. Building them for millions of entries
takes about a second, so a run can ``Intel.prepare`` them ahead (the pipeline does, in the
background, while the first files are read), through a :class:`MatcherCache` that keeps built
tables between runs under a key naming the lists' content (``keibi.intel.match.matcher_key``):
a scan with the same lists then reads its tables instead of building them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

import polars as pl

from keibi.intel.addresses import address_table
from keibi.intel.aws_ranges import AwsRanges, builtin_aws_ranges
from keibi.intel.feeds import builtin_feeds
from keibi.intel.geo import GeoIP
from keibi.intel.lists import IntelList, Scope
from keibi.intel.match import FOUND_SCHEMA, AddressKeys, ThreatListMatcher, matcher_key

ValueKind = Literal["ip", "domain"]

# Below this many entries a list set's tables build in milliseconds, no slower than a store
# round trip, so they are not worth keeping.
CACHE_MIN_ENTRIES: Final = 100_000


class MatcherCache(Protocol):
    """Where built match tables are kept between runs (``keibi.store.Store`` is one).

    ``cached_matcher`` returns the bytes saved under ``key``, or ``None``; it never returns
    bytes other than those saved (a damaged entry is a miss). ``cache_matcher`` saves
    ``blob`` under ``key``, replacing what was there.
    """

    def cached_matcher(self, key: str) -> bytes | None: ...

    def cache_matcher(self, key: str, blob: bytes) -> None: ...


@dataclass
class Intel:
    """The lists a run matches against: user threat and trusted lists, built-in feeds, and
    AWS's IP ranges (``None``: no address is taken to be AWS's); and ``geo``, which places
    the remote addresses of findings (``None``: ``remoteIpDetails`` holds the address only).

    >>> intel = Intel.with_builtin_feeds(threat=[IntelList.from_entries("bad", ["203.0.113.9"])])
    >>> intel.lookup(pl.Series(["203.0.113.9"]), kind="ip", prefix="remote")["remote_custom_list"].to_list()
    ['bad']
    """

    threat: list[IntelList] = field(default_factory=list)
    trusted: list[IntelList] = field(default_factory=list)
    feeds: list[IntelList] = field(default_factory=list)
    aws_ranges: AwsRanges | None = None
    geo: GeoIP | None = None
    _matchers: dict[tuple[int, ...], ThreatListMatcher] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if any(lst.scope is not None for lst in self.feeds):
            raise ValueError("a feed applies to every account: only threat and trusted lists have a scope")

    @classmethod
    def with_builtin_feeds(
        cls,
        threat: Iterable[IntelList] = (),
        trusted: Iterable[IntelList] = (),
        feeds: Iterable[IntelList] = (),
        *,
        aws_ranges: AwsRanges | None = None,
        geo: GeoIP | None = None,
    ) -> Intel:
        """User lists, the operator's ``feeds``, then keibi's shipped feeds (the mining-pool domains).

        ``aws_ranges``: the operator's ``ip-ranges.json``; ``None`` takes the shipped snapshot.
        ``geo``: the operator's GeoIP databases (``GeoIP.open``); ``None`` places addresses by
        country only (iptocc).
        """
        return cls(
            threat=list(threat),
            trusted=list(trusted),
            feeds=[*feeds, *builtin_feeds()],
            aws_ranges=aws_ranges if aws_ranges is not None else builtin_aws_ranges(),
            geo=geo if geo is not None else GeoIP(),
        )

    def matcher(
        self,
        lists: Sequence[IntelList],
        *,
        cache: MatcherCache | None = None,
        min_entries: int = CACHE_MIN_ENTRIES,
    ) -> ThreatListMatcher:
        """The join tables of ``lists``, built once and reused for every batch.

        With ``cache``, tables of at least ``min_entries`` entries whose lists all have a
        version are read from it when it has them, and saved to it when built here.
        """
        key = tuple(id(lst) for lst in lists)
        found = self._matchers.get(key)
        if found is None or found.lists != tuple(lists):
            found = self._matchers[key] = _load_or_build(lists, cache, min_entries)
        return found

    def prepare(self, cache: MatcherCache | None = None, *, min_entries: int = CACHE_MIN_ENTRIES) -> None:
        """Build (or read from ``cache``) the trusted, threat and feed lists' tables now, so the
        first lookup does not wait for them (see :meth:`matcher`)."""
        for scope in (None, *self.scopes()):
            for lists in self._lists(scope):
                self.matcher(lists, cache=cache, min_entries=min_entries)

    @property
    def scoped(self) -> bool:
        """Whether some list applies to some accounts only (lookups then want ``owners``)."""
        return any(lst.scope is not None for lst in (*self.trusted, *self.threat))

    def scopes(self) -> list[Scope]:
        """The distinct scopes of the scoped lists, each where its first threat list is in match
        order (then those with trusted lists only): of two scopes' threat matches on a row,
        the earlier scope's names it."""
        found = (lst.scope for lst in (*self.threat, *self.trusted))
        return list(dict.fromkeys(scope for scope in found if scope is not None))

    def _lists(self, scope: Scope | None) -> tuple[list[IntelList], list[IntelList], list[IntelList]]:
        """The trusted, threat and feed lists of ``scope`` (``None``: the unscoped ones)."""
        return (
            [lst for lst in self.trusted if lst.scope == scope],
            [lst for lst in self.threat if lst.scope == scope],
            [] if scope is not None else self.feeds,
        )

    def lookup(
        self,
        values: pl.Series,
        *,
        kind: ValueKind,
        prefix: str,
        table: pl.DataFrame | None = None,
        owners: pl.DataFrame | None = None,
    ) -> pl.DataFrame:
        """``<prefix>_trusted``, ``_custom_list``, ``_feed``, ``_feed_category`` for each value.

        ``owners``: the ``account_id`` and ``region`` of each value's record; scoped lists
        are matched only on the rows of their scope (module docstring). ``None``: unscoped
        lists only.

        Every list is matched against the distinct values once; only values that some list
        holds are joined back, so a batch that matches nothing (the usual case) costs one
        ``unique`` and a parse of the distinct values. For ``kind="ip"``, ``table`` is an
        :func:`~keibi.intel.addresses.address_table` the caller already parsed from a superset
        of ``values`` (flow enrichment parses both sides of a batch once); it is then reused
        instead of parsing again. Extra rows in it only cost a few ``search_sorted`` probes.
        The cost per batch grows with its distinct values, not with the lists' size
        (``keibi.intel.match``).
        """
        looked = self._lookup_scope(values, None, kind=kind, prefix=prefix, table=table)
        if owners is None or not self.scoped:
            return looked
        return self._with_scoped(looked, values, owners, kind=kind, prefix=prefix, table=table)

    def _with_scoped(
        self,
        looked: pl.DataFrame,
        values: pl.Series,
        owners: pl.DataFrame,
        *,
        kind: ValueKind,
        prefix: str,
        table: pl.DataFrame | None,
    ) -> pl.DataFrame:
        """``looked`` (the unscoped lists' answer) merged with each present scope's lists'
        answer on the rows of that scope. Each scope is matched on its rows' values only; the
        merge joins back only the rows some scoped list holds, so scoped lists that match
        nothing cost one lookup per scope present, on that scope's rows."""
        keys = ["account_id", "region"]
        pairs = owners.select(keys)
        present = set(pairs.unique().iter_rows())
        hits: list[pl.DataFrame] = []
        for scope in self.scopes():
            if present.isdisjoint(scope):
                continue
            rows: pl.Series | None = None  # the usual batch, one account's records, is all in scope
            part = values
            if not present <= scope:
                members = pl.DataFrame(sorted(scope), schema=keys, orient="row")
                rows = pairs.with_row_index("_row").join(members, on=keys, how="semi")["_row"]
                part = values.gather(rows)
            found = self._lookup_scope(part, scope, kind=kind, prefix=prefix, table=table)
            first, *rest = found.columns
            hit = found.select(pl.col(first) | pl.any_horizontal(pl.col(rest).is_not_null()))[first]
            if hit.any():
                at = hit.arg_true().cast(pl.UInt32)
                hits.append(
                    found.filter(hit).with_columns((at if rows is None else rows.gather(at)).alias("_row"))
                )
        if not hits:
            return looked
        trusted, *threat = looked.columns
        scoped = (
            pl.concat(hits)
            .group_by("_row", maintain_order=True)
            .agg(pl.col(trusted).any(), *(pl.col(c).drop_nulls().first() for c in threat))
        )
        merged = looked.with_row_index("_row").join(
            scoped, on="_row", how="left", maintain_order="left", suffix="_scoped"
        )
        is_trusted = pl.col(trusted) | pl.col(f"{trusted}_scoped").fill_null(False)
        return merged.select(
            is_trusted.alias(trusted),
            *(  # a trusted match on either wins: no threat columns (as GuardDuty)
                pl.when(~is_trusted).then(pl.coalesce(c, f"{c}_scoped")).alias(c) for c in threat
            ),
        )

    def _lookup_scope(
        self,
        values: pl.Series,
        scope: Scope | None,
        *,
        kind: ValueKind,
        prefix: str,
        table: pl.DataFrame | None,
    ) -> pl.DataFrame:
        """:meth:`lookup`'s columns from the lists of ``scope`` alone (``None``: unscoped)."""
        text = values.cast(pl.String)
        trusted, threat, feeds = (self.matcher(lists) for lists in self._lists(scope))
        matchers = (trusted, threat, feeds)
        empty = pl.DataFrame(schema=FOUND_SCHEMA)
        if kind == "ip":
            keys = None
            if any(m.has_ips for m in matchers):  # parsed and sorted once for the three matchers
                keys = AddressKeys.of(address_table(text) if table is None else table)
            found = [empty if keys is None else m.ip_found(keys) for m in matchers]
        else:
            uniq = text.unique() if any(m.has_domains for m in matchers) else None
            found = [empty if uniq is None else m.domain_found(uniq) for m in matchers]
        columns = [f"{prefix}_{name}" for name in ("trusted", "custom_list", "feed", "feed_category")]
        n = len(text)
        if all(f.is_empty() for f in found):
            return pl.DataFrame(
                [
                    pl.Series(columns[0], [], dtype=pl.Boolean).extend_constant(False, n),
                    *(pl.Series(c, [], dtype=pl.String).extend_constant(None, n) for c in columns[1:]),
                ]
            )
        hits = pl.concat([f.select("value") for f in found]).unique()
        for tag, f in zip("tcf", found, strict=True):
            hits = hits.join(f.rename({"idx": tag}), on="value", how="left")
        is_trusted = hits["t"].is_not_null()
        small = pl.DataFrame(
            {
                "value": hits["value"],
                columns[0]: is_trusted,
                columns[1]: threat.names(hits["c"]),
                columns[2]: feeds.names(hits["f"]),
                columns[3]: feeds.categories(hits["f"]),
            }
        ).with_columns(  # a trusted match wins: no threat columns (as GuardDuty)
            pl.when(~pl.col(columns[0])).then(pl.col(c)).alias(c) for c in columns[1:]
        )
        joined = pl.DataFrame({"value": text}).join(small, on="value", how="left", maintain_order="left")
        return joined.select(pl.col(columns[0]).fill_null(False), *columns[1:])

    def aws_lookup(
        self, values: pl.Series, *, prefix: str, table: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """``<prefix>_aws_prefix``, ``_aws_region``, ``_aws_service`` for each value: the longest
        AWS prefix holding the address, null where it is not AWS's or not an IP address.

        As in :meth:`lookup`, matching runs on the distinct addresses (of ``table`` when the
        caller already parsed one covering ``values``) and only the addresses inside AWS are
        joined back.
        """
        text = values.cast(pl.String)
        columns = {f"aws_{name}": f"{prefix}_aws_{name}" for name in ("prefix", "region", "service")}
        found = None
        if self.aws_ranges is not None:
            found = self.aws_ranges.match(address_table(text) if table is None else table)
        if found is None or found.is_empty():
            n = len(text)
            return pl.DataFrame(
                [pl.Series(c, [], dtype=pl.String).extend_constant(None, n) for c in columns.values()]
            )
        small = found.select("value", *(pl.col(k).alias(v) for k, v in columns.items()))
        joined = pl.DataFrame({"value": text}).join(small, on="value", how="left", maintain_order="left")
        return joined.select(columns.values())


def _load_or_build(
    lists: Sequence[IntelList], cache: MatcherCache | None, min_entries: int
) -> ThreatListMatcher:
    key = None
    if cache is not None and sum(len(lst) for lst in lists) >= min_entries:
        key = matcher_key(lists)
    if cache is not None and key is not None:
        blob = cache.cached_matcher(key)
        if blob is not None:
            try:
                return ThreatListMatcher.from_ipc(blob, lists)
            except ValueError:
                pass  # not usable: built again and saved over it below
    built = ThreatListMatcher.build(lists)
    if cache is not None and key is not None:
        cache.cache_matcher(key, built.to_ipc())
    return built
