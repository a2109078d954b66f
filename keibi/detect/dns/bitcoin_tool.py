"""CryptoCurrency:EC2/BitcoinTool.B!DNS: the instance resolves a cryptocurrency mining domain.

GuardDuty's trigger: an instance queries a domain associated with cryptocurrency mining
pools or related services. keibi uses its built-in feeds of category ``CryptoCurrency``
(``keibi-mining-pools``, subdomains included, so ``xmr-eu1.nanopool.org.`` matches
``nanopool.org``); a domain on a trusted list never arrives here. Queries blocked by DNS
Firewall still count: the instance asked. One finding per instance (or source address
when the resolver log has no instance id), with the instance as ``ACTOR``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

BITCOIN_TOOL_DNS = FindingType(
    type="CryptoCurrency:EC2/BitcoinTool.B!DNS",
    severity=Severity.HIGH,
    data_sources=("dns",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="DNS_REQUEST",
    title="Bitcoin-related domain name queried by EC2 instance {resource_id}.",
    description=(
        "EC2 instance {resource_id} is querying the domain name {domain}, which is associated with "
        "cryptocurrency mining."
    ),
)

CATEGORY: Final = "CryptoCurrency"
MATCH = pl.col("domain_feed_category") == CATEGORY


@detectors.register("dns.bitcoin_tool", source="dns", emits=(BITCOIN_TOOL_DNS,), prefilter=MATCH)
def bitcoin_tool(queries: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    mining = queries.filter(MATCH).with_columns(pl.coalesce("instance_id", "srcaddr").alias("resource"))
    info = pl.struct(pl.col("domain_feed").alias("threatListName")).struct.json_encode()
    return hits(mining, BITCOIN_TOOL_DNS, key=("resource",), resource_role="ACTOR", info=info)
