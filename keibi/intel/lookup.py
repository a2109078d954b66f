"""The one lookup every enrichment uses: trusted lists, user threat lists, built-in feeds.

``Intel.lookup`` answers, for a column of IP addresses or domains, four columns: on a trusted
list, first user threat list, first built-in feed and that feed's category. A trusted match
wins: the threat columns are then null, as GuardDuty generates no finding for an entry that
is on both a trusted and a threat list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import polars as pl

from keibi.intel.feeds import builtin_feeds
from keibi.intel.lists import IntelList
from keibi.intel.match import ThreatListMatcher

ValueKind = Literal["ip", "domain"]


@dataclass
class Intel:
    """The lists a run matches against: user threat and trusted lists, and built-in feeds.

    >>> intel = Intel.with_builtin_feeds(threat=[IntelList.from_entries("bad", ["203.0.113.9"])])
    >>> intel.lookup(pl.Series(["203.0.113.9"]), kind="ip", prefix="remote")["remote_custom_list"].to_list()
    ['bad']
    """

    threat: list[IntelList] = field(default_factory=list)
    trusted: list[IntelList] = field(default_factory=list)
    feeds: list[IntelList] = field(default_factory=list)
    _matchers: dict[tuple[int, ...], ThreatListMatcher] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def with_builtin_feeds(cls, threat: Iterable[IntelList] = (), trusted: Iterable[IntelList] = ()) -> Intel:
        """User lists plus keibi's shipped feeds (the mining-pool domains)."""
        return cls(threat=list(threat), trusted=list(trusted), feeds=builtin_feeds())

    def matcher(self, lists: Sequence[IntelList]) -> ThreatListMatcher:
        """The join tables of ``lists``, built once and reused for every batch."""
        key = tuple(id(lst) for lst in lists)
        found = self._matchers.get(key)
        if found is None or found.lists != tuple(lists):
            found = self._matchers[key] = ThreatListMatcher.build(lists)
        return found

    def lookup(self, values: pl.Series, *, kind: ValueKind, prefix: str) -> pl.DataFrame:
        """``<prefix>_trusted``, ``_custom_list``, ``_feed``, ``_feed_category`` for each value."""

        def index(lists: Sequence[IntelList]) -> tuple[ThreatListMatcher, pl.Series]:
            m = self.matcher(lists)
            return m, (m.ip_index(values) if kind == "ip" else m.domain_index(values))

        _, trusted_idx = index(self.trusted)
        threat, threat_idx = index(self.threat)
        feeds, feed_idx = index(self.feeds)
        trusted = trusted_idx.is_not_null()
        frame = pl.DataFrame(
            {
                f"{prefix}_trusted": trusted,
                f"{prefix}_custom_list": threat.names(threat_idx),
                f"{prefix}_feed": feeds.names(feed_idx),
                f"{prefix}_feed_category": feeds.categories(feed_idx),
            }
        )
        threat_cols = [c for c in frame.columns if c != f"{prefix}_trusted"]
        return frame.with_columns(
            pl.when(pl.col(f"{prefix}_trusted")).then(None).otherwise(pl.col(c)).alias(c) for c in threat_cols
        )
