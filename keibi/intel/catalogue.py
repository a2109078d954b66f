"""The catalogue of public threat feeds users can switch on by name (``keibi intel enable NAME``).

Each :class:`FeedSpec` says where a feed lives, how to parse it (a ``LIST_FORMATS`` value) and
which threat family (:data:`~keibi.intel.feeds.FEED_CATEGORIES`) its entries belong to; the
family picks the finding type, so a feed is only catalogued under a family its publisher
vouches for. The data lives in ``keibi/intel/data/feeds.toml`` (URLs, terms, refresh periods).

Choices worth knowing:

- **Tor** has two feeds: ``tor-exits`` (the Tor Project's own exit list) and ``tor-relays``
  (every node, exits included). Enable both with the exits first, so an exit is reported as
  one (the first list holding an address wins).
- **Spamhaus DROP** is ``Malicious``, not ``Blackhole``: it lists netblocks hijacked or run by
  criminals (malware hosting, botnet controllers), so a call from one is an attacker's, which
  is what the ``MaliciousIPCaller`` types report. "Don't route" is what networks do with that
  traffic, not what the addresses are. ``Blackhole`` means sinkholes and dead space, where
  traffic marks a victim (``keibi.detect.iam.malicious_ip`` leaves it out on purpose).
- **ThreatFox** domains are ``Malicious``: they mix C2 with payload hosts, and calling them all
  command-and-control would overstate half of them.
- **CryptoCurrency**: keibi ships ``keibi-mining-pools`` (``keibi.intel.feeds``), always on;
  ``coinblocker`` adds CoinBlockerLists' larger, slower-moving domain list.

No public feed exists for three families, and none is invented:

- **DropPoint** (servers collecting stolen credentials and data): GuardDuty's source is
  proprietary, and no free list tracks drop points as such. Operators with commercial
  intelligence add it as a list with ``--category DropPoint``.
- **Blackhole** (sinkholes): sinkhole operators (Shadowserver, abuse.ch's SinkDB) share their
  addresses only with vetted members; the public bogon lists (Team Cymru fullbogons) include
  RFC 1918 space, which would flag every VPC-internal flow. Add a vetted list by hand.
- **DGA** (domains of known generation algorithms): 360 Netlab ended its free DGA feeds in
  2023, Bambenek Consulting's DGA feed has needed a licence for commercial use since 2019,
  and DGArchive (Fraunhofer FKIE) is shared with vetted researchers only. Add a licensed or
  self-generated list with ``--category DGA``.

>>> FEEDS["feodo-c2"].category
'CommandAndControl'
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib.resources import files
from typing import Any, Final

from keibi.errors import ConfigError
from keibi.intel.feeds import FEED_CATEGORIES
from keibi.intel.formats import LIST_FORMATS

_WHERE: Final = "keibi/intel/data/feeds.toml"

# Families with no public feed, and why (see the module docstring).
UNCOVERED: Final[dict[str, str]] = {
    "DropPoint": "no public feed tracks credential drop points; GuardDuty's source is proprietary",
    "Blackhole": "sinkhole lists are shared only with vetted members; public bogon lists include RFC 1918 space",
    "DGA": "no free, maintained feed of known DGA domains (360 Netlab's ended in 2023; others need a licence)",
}


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One catalogued feed. ``format`` is a ``keibi.intel.LIST_FORMATS`` value, ``category`` one
    of ``FEED_CATEGORIES``; ``license`` is the publisher's terms in one line (re-read them before
    relying on a feed); ``refresh_minutes`` respects what the publisher asks for."""

    name: str
    url: str
    format: str
    category: str
    description: str
    homepage: str
    license: str
    refresh_minutes: int


def parse_catalogue(text: str, *, where: str = _WHERE) -> dict[str, FeedSpec]:
    """The feeds in a catalogue TOML document, in file order.

    Raises ``ConfigError`` naming the feed and key for an unknown or missing key, a value of the
    wrong type, an unknown category or format, or a non-https(s) URL.
    """
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", where) from None
    return {name: _feed(name, raw, where) for name, raw in doc.items()}


def _feed(name: str, raw: Any, where: str) -> FeedSpec:
    if not isinstance(raw, dict):
        raise ConfigError("a feed is a table of keys", where, name)
    wanted = {f.name for f in fields(FeedSpec)} - {"name"}
    unknown = sorted(set(raw) - wanted)
    if unknown:
        raise ConfigError(f"unknown key {unknown[0]!r}", where, f"{name}.{unknown[0]}")
    missing = sorted(wanted - set(raw))
    if missing:
        raise ConfigError("missing", where, f"{name}.{missing[0]}")
    for key in sorted(wanted - {"refresh_minutes"}):
        if not isinstance(raw[key], str) or not raw[key].strip():
            raise ConfigError("must be a non-empty string", where, f"{name}.{key}")
    minutes = raw["refresh_minutes"]
    if not isinstance(minutes, int) or isinstance(minutes, bool) or minutes < 1:
        raise ConfigError("must be a whole number of minutes, at least 1", where, f"{name}.refresh_minutes")
    if raw["category"] not in FEED_CATEGORIES:
        raise ConfigError(
            f"unknown category {raw['category']!r} (expected one of: {', '.join(FEED_CATEGORIES)})",
            where,
            f"{name}.category",
        )
    if raw["format"] not in LIST_FORMATS:
        raise ConfigError(
            f"unknown format {raw['format']!r} (expected one of: {', '.join(LIST_FORMATS)})",
            where,
            f"{name}.format",
        )
    if not raw["url"].startswith(("https://", "http://")):
        raise ConfigError("a feed is downloaded over http(s)", where, f"{name}.url")
    return FeedSpec(name=name, **raw)


def feed(name: str) -> FeedSpec:
    """The catalogued feed ``name``; ``ConfigError`` listing the known names otherwise."""
    found = FEEDS.get(name)
    if found is None:
        raise ConfigError(f"no feed named {name!r} in the catalogue (known: {', '.join(FEEDS)})")
    return found


FEEDS: Final[dict[str, FeedSpec]] = parse_catalogue(
    files("keibi.intel").joinpath("data/feeds.toml").read_text(encoding="utf-8")
)

__all__ = ["FEEDS", "UNCOVERED", "FeedSpec", "feed", "parse_catalogue"]
