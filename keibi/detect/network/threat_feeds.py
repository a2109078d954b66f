"""Flow findings named by the threat feed that lists the remote address.

GuardDuty raises these when flow logs show the instance reaching a host its threat
intelligence knows; keibi's threat intelligence is the operator's feeds (``keibi.intel.feeds``),
and the category of the feed that matched the remote address picks the type:

=====================  ====================================  ========
feed category          finding type                          severity
=====================  ====================================  ========
``CommandAndControl``  ``Backdoor:EC2/C&CActivity.B``        High
``CryptoCurrency``     ``CryptoCurrency:EC2/BitcoinTool.B``  High
``Blackhole``          ``Trojan:EC2/BlackholeTraffic``       Medium
``DropPoint``          ``Trojan:EC2/DropPoint``              Medium
=====================  ====================================  ========

Each type names the instance as the ``ACTOR``: something on it calls home, mines, tries a
sinkholed address or uploads stolen data. So only connections the instance opened count
(``direction`` ``OUTBOUND``, decided by ports and flow direction in ``keibi.enrich.network``,
so a server's replies never count), accepted or rejected: a beacon the security group blocks
still says the instance is infected (the finding's ``blocked`` is then true). Connections the
listed host opened do not count: a C2 server or a sinkhole probing a public web server makes
the instance a target, not an actor, and a rejected inbound flow says nothing at all.

The other categories have no flow type here: ``Tor``/``TorRelay`` are
``keibi.detect.network.tor``; ``Malicious``, ``Phishing``, ``MalwareDistribution`` and ``DGA``
have no EC2 flow type in GuardDuty (their DNS types are ``keibi.detect.dns.threat_feeds``).
Addresses on a user's own threat list are ``keibi.detect.network.malicious_ip_custom``.

One finding per instance (or ENI, when the flow log has no ``instance-id``), type and remote
address; ``threatListName`` (the feed) and ``threatNames`` (its category) fill
``service.evidence.threatIntelligenceDetails``. A trusted address never arrives here
(enrichment nulls its threat columns).
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits

C2_ACTIVITY = FindingType(
    type="Backdoor:EC2/C&CActivity.B",
    severity=Severity.HIGH,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with a command and control server.",
    description=(
        "EC2 instance {resource_id} is connecting to IP address {remote_ip} on port {remote_port}, "
        "a known command and control server (feed {threat_list})."
    ),
)
BITCOIN_TOOL = FindingType(
    type="CryptoCurrency:EC2/BitcoinTool.B",
    severity=Severity.HIGH,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with a cryptocurrency mining IP address.",
    description=(
        "EC2 instance {resource_id} is connecting to IP address {remote_ip} on port {remote_port}, "
        "which is associated with cryptocurrency mining (feed {threat_list})."
    ),
)
BLACKHOLE_TRAFFIC = FindingType(
    type="Trojan:EC2/BlackholeTraffic",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is attempting to communicate with a black hole IP address.",
    description=(
        "EC2 instance {resource_id} is trying to connect to IP address {remote_ip} on port "
        "{remote_port}, a black hole (sinkhole) address (feed {threat_list}): malware on it may "
        "still be calling a seized server."
    ),
)
DROP_POINT = FindingType(
    type="Trojan:EC2/DropPoint",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with a malware drop point.",
    description=(
        "EC2 instance {resource_id} is connecting to IP address {remote_ip} on port {remote_port}, "
        "a known drop point for credentials and data stolen by malware (feed {threat_list})."
    ),
)

FEED_TYPES: Final[dict[str, FindingType]] = {
    "CommandAndControl": C2_ACTIVITY,
    "CryptoCurrency": BITCOIN_TOOL,
    "Blackhole": BLACKHOLE_TRAFFIC,
    "DropPoint": DROP_POINT,
}

CATEGORY: Final = pl.col("remote_feed_category")
MATCH: Final = (CATEGORY.is_in(list(FEED_TYPES)) & (pl.col("direction") == "OUTBOUND")).fill_null(False)
FEED_INFO: Final = pl.struct(
    pl.col("remote_feed").alias("threatListName"),
    pl.concat_list(CATEGORY).alias("threatNames"),
).struct.json_encode()


@detectors.register(
    "network.threat_feeds", source="vpc_flow", emits=tuple(FEED_TYPES.values()), prefilter=MATCH
)
def threat_feeds(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    calls = flows.filter(MATCH).with_columns(pl.coalesce("instance_id", "interface_id").alias("resource"))
    found = [
        hits(
            calls.filter(pl.col("remote_feed_category") == category),
            ftype,
            key=("resource", "remote_ip"),
            resource_role="ACTOR",
            info=FEED_INFO,
        )
        for category, ftype in FEED_TYPES.items()
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
