"""Impact:EC2/MaliciousDomainRequest.Custom: the instance queries a domain on a custom threat list.

GuardDuty's trigger: an instance queries a domain on one of the customer's active threat
entity lists. Entries cover their subdomains (``*.example.org`` and ``example.org`` alike);
query names are compared lower-case without the trailing dot, and a domain also on a
trusted list never arrives here. One finding per instance (or source address) and list,
with the instance as ``ACTOR``; ``additionalInfo.threatListName`` names the list.
"""

from __future__ import annotations

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits

MALICIOUS_DOMAIN_CUSTOM = FindingType(
    type="Impact:EC2/MaliciousDomainRequest.Custom",
    severity=Severity.MEDIUM,
    data_sources=("dns",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="DNS_REQUEST",
    title="EC2 instance {resource_id} is querying a domain on a custom threat list.",
    description="EC2 instance {resource_id} is querying the domain name {domain}, which is on the threat list {threat_list}.",
)

MATCH = pl.col("domain_custom_list").is_not_null()


@detectors.register(
    "dns.malicious_domain_custom", source="dns", emits=(MALICIOUS_DOMAIN_CUSTOM,), prefilter=MATCH
)
def malicious_domain_custom(queries: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    listed = queries.filter(MATCH).with_columns(pl.coalesce("instance_id", "srcaddr").alias("resource"))
    info = pl.struct(pl.col("domain_custom_list").alias("threatListName")).struct.json_encode()
    return hits(
        listed,
        MALICIOUS_DOMAIN_CUSTOM,
        key=("resource", "domain_custom_list"),
        resource_role="ACTOR",
        info=info,
    )
