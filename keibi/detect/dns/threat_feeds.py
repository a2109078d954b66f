"""DNS findings named by the threat feed that lists the queried domain.

GuardDuty raises these when an instance resolves (through the AWS-provided resolver) a domain
its threat intelligence knows; keibi's threat intelligence is the operator's feeds and the
shipped mining-pool list (``keibi.intel.feeds``), and the category of the feed that matched
the domain picks the type:

=======================  ============================================  ========
feed category            finding type                                  severity
=======================  ============================================  ========
``CommandAndControl``    ``Backdoor:EC2/C&CActivity.B!DNS``            High
``CryptoCurrency``       ``CryptoCurrency:EC2/BitcoinTool.B!DNS``      High
``Blackhole``            ``Trojan:EC2/BlackholeTraffic!DNS``           Medium
``DropPoint``            ``Trojan:EC2/DropPoint!DNS``                  Medium
``MalwareDistribution``  ``Trojan:EC2/DriveBySourceTraffic!DNS``       High
``Phishing``             ``Trojan:EC2/PhishingDomainRequest!DNS``      High
``DGA``                  ``Trojan:EC2/DGADomainRequest.C!DNS``         High
=======================  ============================================  ========

Feed entries cover their subdomains (``xmr-eu1.nanopool.org`` matches ``nanopool.org``); query
names are compared lower-case without the trailing dot. Every query counts, whatever its
answer: a DGA bot's queries mostly come back NXDOMAIN, and a query DNS Firewall blocked still
says what the instance wanted (``blocked`` is then true). ``BlackholeTraffic!DNS`` is GuardDuty's
"a domain whose resolution is redirected to a black-hole address": it is raised for a queried
name on a ``Blackhole`` feed, and for any name whose A/AAAA answer is an address on one (a
sinkhole), ``answer_feed`` from ``keibi.enrich``; ``additionalInfo.resolvedAddress`` then
names the address. A name on another feed keeps its own type whatever it resolved to.
``Malicious`` domains (feeds that mix C2 with payload hosts) have no type here; the domain
reputation types score them. A domain on a user's own threat list is
``keibi.detect.dns.malicious_domain_custom``; a trusted domain never arrives here.

One finding per instance (or source address, when the resolver log has no instance id), type
and feed, with the instance as ``ACTOR``. The feed stands for the remote party: a DGA bot asks
for a new name every time and a phishing kit spreads over many subdomains, so one finding per
name would bury the one fact that matters. The latest query fills ``dnsRequestAction``;
``threatListName`` and ``threatNames`` (the feed and its category) fill
``service.evidence.threatIntelligenceDetails``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits


def _dns_type(type_: str, severity: Severity, title: str, what: str) -> FindingType:
    return FindingType(
        type=type_,
        severity=severity,
        data_sources=("dns",),
        resource_type="Instance",
        detection="threat_intel",
        action_type="DNS_REQUEST",
        title=title,
        description=f"EC2 instance {{resource_id}} is querying the domain name {{domain}}, {what} (feed {{threat_list}}).",
    )


C2_ACTIVITY_DNS = _dns_type(
    "Backdoor:EC2/C&CActivity.B!DNS",
    Severity.HIGH,
    "EC2 instance {resource_id} is querying a domain name associated with a command and control server.",
    "which is associated with a known command and control server",
)
BITCOIN_TOOL_DNS = _dns_type(
    "CryptoCurrency:EC2/BitcoinTool.B!DNS",
    Severity.HIGH,
    "Bitcoin-related domain name queried by EC2 instance {resource_id}.",
    "which is associated with cryptocurrency mining",
)
BLACKHOLE_TRAFFIC_DNS = _dns_type(
    "Trojan:EC2/BlackholeTraffic!DNS",
    Severity.MEDIUM,
    "EC2 instance {resource_id} is querying a domain name that is being redirected to a black hole IP address.",
    "which is sinkholed (redirected to a black hole address)",
)
DROP_POINT_DNS = _dns_type(
    "Trojan:EC2/DropPoint!DNS",
    Severity.MEDIUM,
    "EC2 instance {resource_id} is querying a domain name of a remote host that is a known drop point.",
    "a known drop point for credentials and data stolen by malware",
)
DRIVE_BY_SOURCE_DNS = _dns_type(
    "Trojan:EC2/DriveBySourceTraffic!DNS",
    Severity.HIGH,
    "EC2 instance {resource_id} is querying a domain name of a remote host that is a known source of drive-by download attacks.",
    "a known source of drive-by downloads and malware",
)
PHISHING_DOMAIN_DNS = _dns_type(
    "Trojan:EC2/PhishingDomainRequest!DNS",
    Severity.HIGH,
    "EC2 instance {resource_id} is querying domains involved in phishing attacks.",
    "which is involved in phishing",
)
DGA_DOMAIN_C_DNS = _dns_type(
    "Trojan:EC2/DGADomainRequest.C!DNS",
    Severity.HIGH,
    "EC2 instance {resource_id} is querying algorithmically generated domains.",
    "a known domain of a malware domain generation algorithm",
)

FEED_TYPES: Final[dict[str, FindingType]] = {
    "CommandAndControl": C2_ACTIVITY_DNS,
    "CryptoCurrency": BITCOIN_TOOL_DNS,
    "Blackhole": BLACKHOLE_TRAFFIC_DNS,
    "DropPoint": DROP_POINT_DNS,
    "MalwareDistribution": DRIVE_BY_SOURCE_DNS,
    "Phishing": PHISHING_DOMAIN_DNS,
    "DGA": DGA_DOMAIN_C_DNS,
}

BLACKHOLE: Final = "Blackhole"
NAME_LISTED: Final = pl.col("domain_feed_category").is_in(list(FEED_TYPES)).fill_null(False)
ANSWER_SINKHOLED: Final = (pl.col("answer_feed_category") == BLACKHOLE).fill_null(False)
MATCH: Final = NAME_LISTED | ANSWER_SINKHOLED
# The queried name's feed decides; else the answer's sinkhole feed.
CATEGORY: Final = pl.when(NAME_LISTED).then(pl.col("domain_feed_category")).otherwise(pl.lit(BLACKHOLE))
FEED: Final = pl.when(NAME_LISTED).then(pl.col("domain_feed")).otherwise(pl.col("answer_feed"))
_NAMED: Final = (pl.col("_feed").alias("threatListName"), pl.concat_list("_category").alias("threatNames"))
FEED_INFO: Final = (
    pl.when(NAME_LISTED)
    .then(pl.struct(*_NAMED).struct.json_encode())
    .otherwise(pl.struct(*_NAMED, pl.col("answer_ip").alias("resolvedAddress")).struct.json_encode())
)


@detectors.register("dns.threat_feeds", source="dns", emits=tuple(FEED_TYPES.values()), prefilter=MATCH)
def threat_feeds(queries: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    listed = queries.filter(MATCH).with_columns(
        pl.coalesce("instance_id", "srcaddr").alias("resource"),
        CATEGORY.alias("_category"),
        FEED.alias("_feed"),
    )
    found = [
        hits(
            listed.filter(pl.col("_category") == category),
            ftype,
            key=("resource", "_feed"),
            resource_role="ACTOR",
            info=FEED_INFO,
        )
        for category, ftype in FEED_TYPES.items()
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
