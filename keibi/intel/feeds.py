"""Built-in feeds shipped as package data (``keibi/intel/data``).

``keibi-mining-pools`` (category ``CryptoCurrency``): cryptocurrency mining pools and related
services, the feed behind ``CryptoCurrency:EC2/BitcoinTool.B!DNS``; see the file's header.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import as_file, files

from keibi.intel.lists import IntelList, load_txt

MINING_POOLS_FEED = "keibi-mining-pools"


@cache
def mining_pools() -> IntelList:
    """The shipped mining-pool domain feed (loaded once per process)."""
    with as_file(files("keibi.intel").joinpath("data/mining_pools.txt")) as path:
        return load_txt(path, name=MINING_POOLS_FEED, kind="threat", category="CryptoCurrency", builtin=True)


def builtin_feeds() -> list[IntelList]:
    """Every built-in feed, in match order."""
    return [mining_pools()]
