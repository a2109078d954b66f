"""Feeds: threat lists that say what kind of threat an entry is, so detectors can type findings.

A user's threat list (``category`` ``"custom"``) gives the ``*.Custom`` finding types. A feed
carries one of :data:`FEED_CATEGORIES`, and the category picks the GuardDuty type: a Tor exit
calling an API is ``*/TorIPCaller``, a known-malicious address ``*/MaliciousIPCaller``, a
mining pool ``CryptoCurrency:*``, a known DGA domain ``Trojan:EC2/DGADomainRequest.C!DNS``
(``keibi.detect.network.threat_feeds`` and ``keibi.detect.dns.threat_feeds`` hold the flow and
DNS tables). Feeds come from two places:

- shipped as package data (``keibi/intel/data``): ``keibi-mining-pools`` (``CryptoCurrency``),
  the mining pools behind ``CryptoCurrency:EC2/BitcoinTool.B!DNS``; see the file's header;
- files the operator names in ``[intel] feeds`` (``keibi.config``) or with ``keibi scan --feed
  CATEGORY=PATH``, in GuardDuty's TXT format.

When an entry is on several feeds, the first wins: operator feeds in the order given, then
the shipped ones.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Final

from keibi.errors import ConfigError
from keibi.intel.lists import IntelList, load_txt

MINING_POOLS_FEED = "keibi-mining-pools"

# Category → what its entries are. The names are keibi's; detectors map them to finding types.
FEED_CATEGORIES: Final[dict[str, str]] = {
    "Tor": "Tor exit nodes: traffic leaving the Tor network from these addresses",
    "TorRelay": "Tor relays and guards that are not exits",
    "Malicious": "known-malicious addresses and domains: attackers, scanners, malware hosts",
    "CommandAndControl": "command-and-control servers of malware and botnets",
    "CryptoCurrency": "cryptocurrency mining pools and related services",
    "Phishing": "phishing sites",
    "DropPoint": "servers that collect credentials and data stolen by malware",
    "MalwareDistribution": "drive-by download and malware distribution sites",
    "Blackhole": "sinkholed and black-holed destinations",
    "DGA": "domains that known malware domain generation algorithms produce",
}


def load_feed(path: str | Path, category: str, *, name: str | None = None) -> IntelList:
    """A feed file in TXT format; ``category`` must be one of :data:`FEED_CATEGORIES`."""
    if category not in FEED_CATEGORIES:
        raise ConfigError(
            f"unknown feed category {category!r} (expected one of: {', '.join(FEED_CATEGORIES)})",
            str(path),
        )
    return load_txt(path, name=name, kind="threat", category=category)


@cache
def mining_pools() -> IntelList:
    """The shipped mining-pool domain feed (loaded once per process)."""
    with as_file(files("keibi.intel").joinpath("data/mining_pools.txt")) as path:
        return load_txt(path, name=MINING_POOLS_FEED, kind="threat", category="CryptoCurrency", builtin=True)


def builtin_feeds() -> list[IntelList]:
    """Every built-in feed, in match order."""
    return [mining_pools()]
