"""Threat intelligence: threat and trusted lists, built-in feeds, vectorised lookups.

Lists are read in every GuardDuty format and a few feed layouts (:data:`LIST_FORMATS`,
:func:`load_list`, :func:`parse_list`; bad entries are skipped and kept as the list's
``problems``), held as join tables
(:class:`IntelList`) and matched a whole column at a time (:class:`ThreatListMatcher`,
:func:`match_ips`, :func:`match_domains`). :class:`Intel` bundles a run's lists and gives
enrichment its single lookup, where trusted lists win over threat lists. :class:`AwsRanges`
holds AWS's published address ranges (a shipped snapshot, :func:`builtin_aws_ranges`, or the
operator's ``ip-ranges.json``) and says which addresses are AWS's (``Intel.aws_lookup``).
:class:`GeoIP` places public addresses offline (country from iptocc; city, coordinates and
ASN from the operator's MaxMind-format databases) for findings' ``remoteIpDetails``.
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
from keibi.intel.formats import LIST_FORMATS
from keibi.intel.geo import GeoIP, GeoRecord
from keibi.intel.lists import IntelList, ListKind, load_list, load_txt, parse_list
from keibi.intel.lookup import Intel
from keibi.intel.match import ThreatListMatcher, match_domains, match_ips

__all__ = [
    "FEED_CATEGORIES",
    "LIST_FORMATS",
    "AwsRanges",
    "GeoIP",
    "GeoRecord",
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
    "load_list",
    "load_txt",
    "match_domains",
    "match_ips",
    "mining_pools",
    "normalise_domain",
    "parse_list",
]
