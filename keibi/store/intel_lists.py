"""Threat and trusted lists kept in the store: what a list is (:class:`IntelListSpec`), what
the store knows about it (:class:`IntelListRecord`), and when it is due for a refresh.

A list is defined once (``keibi intel add`` / ``enable``) and refreshed on a schedule
(``keibi.store.intel_sync.refresh``). Each refresh that brings new content saves a *version*:
the parsed tables as Arrow IPC, named by the first 12 hex digits of the content's SHA-256, so
the same bytes always give the same version and a finding can say which one matched. The
current and the previous version are kept.

Schedule: a list is due ``refresh_minutes`` after its last successful fetch (a "not modified"
answer counts). Feeds default to their catalogue period (``keibi.intel.catalogue``); other
lists to :data:`DEFAULT_REFRESH_MINUTES` (24 hours: a user's list changes when its owner says
so, and ``keibi intel update NAME --force`` picks an edit up at once). After a failed fetch the
list is due again after :data:`RETRY_MINUTES` (or its own period, if shorter), so a broken
source is retried soon without being hammered. A list never fetched is due at once; an
inactive list has no next refresh (it is refreshed only when named).

AWS's ``ip-ranges.json`` is kept the same way, as the list :data:`AWS_RANGES_LIST` (kind
``"aws"``, format :data:`AWS_RANGES_FORMAT`); its versions hold the document itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from keibi.intel.catalogue import FEEDS, FeedSpec

IntelListKind = Literal["threat", "trusted", "aws"]

AWS_RANGES_LIST: Final = "aws-ip-ranges"
AWS_RANGES_FORMAT: Final = "AWS_IP_RANGES"
AWS_IP_RANGES_URL: Final = "https://ip-ranges.amazonaws.com/ip-ranges.json"
DEFAULT_REFRESH_MINUTES: Final = 24 * 60
RETRY_MINUTES: Final = 60
VERSION_DIGITS: Final = 12  # hex digits of the content's SHA-256 that name a version
VERSIONS_KEPT: Final = 2  # the current version and the one before it


@dataclass(frozen=True, slots=True)
class IntelListSpec:
    """A list as its owner defines it. ``location`` is a local path, ``file://``, ``http(s)://``
    or ``s3://`` URL; ``format`` a ``keibi.intel.LIST_FORMATS`` value; ``category`` ``"custom"``
    or a feed category (``keibi.intel.FEED_CATEGORIES``; trusted lists are always ``"custom"``);
    ``feed`` the catalogue name when the list is a catalogued feed; ``refresh_minutes`` ``None``
    for the default (module docstring). For example
    ``IntelListSpec("bad-actors", "threat", "TXT", "https://example.org/bad.txt")``, or
    ``IntelListSpec.for_feed(FEEDS["tor-exits"])`` for a catalogued feed.
    """

    name: str
    kind: IntelListKind
    format: str
    location: str
    category: str = "custom"
    active: bool = True
    feed: str | None = None
    refresh_minutes: int | None = None

    @classmethod
    def for_feed(cls, feed: FeedSpec, *, name: str | None = None, active: bool = True) -> IntelListSpec:
        """The list that keeps catalogued ``feed`` (under its own name unless ``name`` is given)."""
        return cls(
            name=name or feed.name,
            kind="threat",
            format=feed.format,
            location=feed.url,
            category=feed.category,
            active=active,
            feed=feed.name,
            refresh_minutes=feed.refresh_minutes,
        )

    @classmethod
    def aws_ranges(cls, location: str = AWS_IP_RANGES_URL) -> IntelListSpec:
        """AWS's ``ip-ranges.json`` (from AWS, or a mirror at ``location``)."""
        return cls(name=AWS_RANGES_LIST, kind="aws", format=AWS_RANGES_FORMAT, location=location)


@dataclass(frozen=True, slots=True, kw_only=True)
class IntelListRecord(IntelListSpec):
    """A stored list: its definition, its current version (``None`` until the first successful
    refresh) and the state of its last refresh.

    ``entries``/``problems``: entries loaded and bad entries skipped in the current version;
    ``fetched_at``: last successful fetch (also "not modified"); ``checked_at``: last attempt;
    ``last_error``: why the last attempt failed (``None`` after a success);
    ``previous_version``: the version kept before the current one.
    """

    added_at: datetime
    version: str | None = None
    previous_version: str | None = None
    sha256: str | None = None
    entries: int | None = None
    problems: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: datetime | None = None
    checked_at: datetime | None = None
    last_error: str | None = None

    @property
    def next_refresh(self) -> datetime | None:
        """When the list is next due; ``None`` for an inactive list (refreshed only when named)."""
        return self.due_at() if self.active else None

    @property
    def refresh_period(self) -> timedelta:
        """How long a successful fetch stays fresh (module docstring)."""
        if self.refresh_minutes is not None:
            return timedelta(minutes=self.refresh_minutes)
        known = FEEDS.get(self.feed) if self.feed is not None else None
        if known is not None:
            return timedelta(minutes=known.refresh_minutes)
        return timedelta(minutes=DEFAULT_REFRESH_MINUTES)

    def due_at(self) -> datetime:
        """When the list is next due, whether or not it is active (module docstring)."""
        period = self.refresh_period
        if self.last_error is not None and self.checked_at is not None:
            return self.checked_at + min(period, timedelta(minutes=RETRY_MINUTES))
        if self.fetched_at is not None:
            return self.fetched_at + period
        return self.added_at

    def is_due(self, now: datetime) -> bool:
        """Whether a refresh at ``now`` should fetch the list (always, if it was never tried)."""
        never_tried = self.fetched_at is None and self.checked_at is None
        return never_tried or now >= self.due_at()


__all__ = [
    "AWS_IP_RANGES_URL",
    "AWS_RANGES_FORMAT",
    "AWS_RANGES_LIST",
    "DEFAULT_REFRESH_MINUTES",
    "RETRY_MINUTES",
    "VERSIONS_KEPT",
    "VERSION_DIGITS",
    "IntelListKind",
    "IntelListRecord",
    "IntelListSpec",
]
