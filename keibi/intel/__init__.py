"""Threat intelligence: threat and trusted lists, built-in feeds, vectorised lookups.

Lists are read from GuardDuty's TXT format (:func:`load_txt`), held as join tables
(:class:`IntelList`) and matched a whole column at a time (:class:`ThreatListMatcher`,
:func:`match_ips`, :func:`match_domains`). :class:`Intel` bundles a run's lists and gives
enrichment its single lookup, where trusted lists win over threat lists. :class:`AwsRanges`
holds AWS's published address ranges (a shipped snapshot, :func:`builtin_aws_ranges`, or the
operator's ``ip-ranges.json``) and says which addresses are AWS's (``Intel.aws_lookup``).
"""

from keibi.intel.addresses import (
    address_table,
    ipv4_to_u32,
    ipv6_to_halves,
    is_ip,
    is_private,
    normalise_domain,
)
from keibi.intel.aws_ranges import AwsRanges, builtin_aws_ranges
from keibi.intel.feeds import FEED_CATEGORIES, builtin_feeds, load_feed, mining_pools
from keibi.intel.lists import IntelList, ListKind, load_txt
from keibi.intel.lookup import Intel
from keibi.intel.match import ThreatListMatcher, match_domains, match_ips

__all__ = [
    "FEED_CATEGORIES",
    "AwsRanges",
    "Intel",
    "IntelList",
    "ListKind",
    "ThreatListMatcher",
    "address_table",
    "builtin_aws_ranges",
    "builtin_feeds",
    "ipv4_to_u32",
    "ipv6_to_halves",
    "is_ip",
    "is_private",
    "load_feed",
    "load_txt",
    "match_domains",
    "match_ips",
    "mining_pools",
    "normalise_domain",
]
