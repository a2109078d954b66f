"""Recon:EC2/PortProbeUnprotectedPort and PortProbeEMRUnprotectedPort: scanners reach an open port.

GuardDuty's trigger: inbound flow records show known internet scanners probing a port of the
instance that no security group, network ACL or host firewall blocks. The finding is about
the *exposure*: a port that should not face the internet (SSH, RDP, databases,
Elasticsearch, Hadoop's web UIs) does, and the internet has found it.

**What counts as a probe.** An accepted (``ACCEPT``: the security group let it in) inbound
TCP request record from a public address to the instance's port (``direction`` INBOUND,
``dstaddr`` the instance). The prober is either

- a **known scanner**: its address is on a feed of category ``Malicious``
  (``keibi.intel.FEED_CATEGORIES``: attackers, scanners, malware hosts), GuardDuty's own
  trigger; any accepted connection counts; or
- an unlisted public host whose connections to that port carry nothing
  (handshake-only records, ``keibi.detect.network.attempts``) and are few: at most
  ``settings.port_probe_max_attempts`` (5) distinct client ports in the window. A scanner
  knocks once or twice; a health checker or a client keeps coming back.

A port is *being probed* when, inside one event-time window of ``settings.port_probe_window``
(60 minutes), a known scanner, or at least ``settings.port_probe_min_sources`` (5) distinct
probers, reach it. keibi does not require a feed to be configured, so the second rule is
the signature of internet-wide scanning that feeds only name: many unrelated hosts, each
knocking once. Rejected probes never count: the port is protected.

**What stays quiet, and why.** Ports 80 and 443 are left out (``PUBLIC_BY_DESIGN``): a web
server is meant to face the internet, scanners hit it all day, and "close the port", the
finding's remedy, does not apply. Its thousands of clients would not qualify anyway: they send
requests. Private peers (load balancers' health checks, bastions) never count, nor trusted
addresses. Route 53-style health checkers connect and close without payload, but from the
same handful of addresses every 30 seconds: over the attempt limit. Admins and partners using
an exposed SSH or SFTP port send data. A brute force sends data too (and is its own finding).
UDP is left out: an accepted UDP datagram says nothing about a listener.

**Severity.** Low; High when the port is Elasticsearch's (9200, 9300), as GuardDuty does.

**EMR.** The EMR type is raised instead when the probed port is one of Hadoop's and Spark's
web UIs and endpoints on EMR (``EMR_PORTS``: YARN ResourceManager 8088, Zeppelin 8890, Hue
8888, Spark History 18080, YARN proxy 20888, …) *and* the instance is an EMR node. keibi has
no EC2 inventory, so the node is known from its own traffic: inside the same window it
exchanges data with private peers on a Hadoop cluster port (``EMR_CLUSTER_PORTS``: HDFS
NameNode 8020, YARN ResourceManager 8025/8030-8033, NodeManager 8040/8041, DataNode
9866/9867), as every EMR node does all the time (heartbeats, HDFS). A port number alone is
not enough: 8088 and 8888 are common on other servers, and a wide-open security group
accepts probes on every port of any host. Hadoop 2's DataNode ports 50010/50020 are not used
as evidence: they lie in the ephemeral range, where client ports land by chance. EMR
findings are High.

**Finding.** One per instance (or ENI) and probed port, the two Elasticsearch ports counting
as one (``PORT_FAMILIES``). ``portProbeAction.portProbeDetails`` lists the probers (local
port, local IP, remote IP; known scanners first, then by first probe; at most
``MAX_PROBE_DETAILS``); ``additionalInfo`` says how many hosts probed, how many were known
scanners and, for EMR, the cluster port that showed the node is one. When a known scanner
probed, ``threatListName`` (its feed) and ``threatNames`` fill
``service.evidence.threatIntelligenceDetails``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.network.attempts import NO_PAYLOAD, TCP, not_trusted, resource

UNPROTECTED_PORT = FindingType(
    type="Recon:EC2/PortProbeUnprotectedPort",
    severity=Severity.LOW,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="PORT_PROBE",
    title="Unprotected port on EC2 instance {resource_id} is being probed.",
    description=(
        "EC2 instance {resource_id} has an unprotected port {local_port} which is being probed by "
        "{probingHosts} hosts on the internet ({knownScanners} known scanners)."
    ),
)
EMR_UNPROTECTED_PORT = FindingType(
    type="Recon:EC2/PortProbeEMRUnprotectedPort",
    severity=Severity.HIGH,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="PORT_PROBE",
    title="Unprotected EMR-related port on EC2 instance {resource_id} is being probed.",
    description=(
        "EC2 instance {resource_id}, an EMR cluster node (cluster traffic on port {clusterPort}), has the "
        "EMR-related port {local_port} open to the internet, where {probingHosts} hosts are probing it "
        "({knownScanners} known scanners)."
    ),
)

PUBLIC_BY_DESIGN: Final = (80, 443)
"""Web ports: meant to face the internet, never reported."""
KNOWN_SCANNERS: Final = ("Malicious",)
"""Feed categories whose addresses are known scanners."""
ELASTICSEARCH: Final = (9200, 9300)
PORT_FAMILIES: Final[dict[int, str]] = {9200: "9200/9300", 9300: "9200/9300"}
"""Ports reported as one finding; any other port is its own family."""
EMR_PORTS: Final = (
    4040,  # Spark driver UI
    8020,  # HDFS NameNode RPC
    8042,  # YARN NodeManager UI
    8088,  # YARN ResourceManager UI
    8888,  # Hue
    8890,  # Zeppelin
    8998,  # Livy
    9443,  # JupyterHub
    9864,  # HDFS DataNode UI (Hadoop 3)
    9870,  # HDFS NameNode UI (Hadoop 3)
    10000,  # HiveServer2
    16010,  # HBase Master UI
    16030,  # HBase RegionServer UI
    18080,  # Spark History Server
    19888,  # MapReduce JobHistory UI
    20888,  # YARN web proxy (Spark and Tez UIs)
    50070,  # HDFS NameNode UI (Hadoop 2)
    50075,  # HDFS DataNode UI (Hadoop 2)
)
"""EMR-sensitive ports: the web interfaces and service endpoints of the applications EMR installs
(EMR's "web interfaces hosted on Amazon EMR clusters"), none meant for the internet."""
EMR_CLUSTER_PORTS: Final = (8020, 8025, 8030, 8031, 8032, 8033, 8040, 8041, 9866, 9867)
"""Hadoop cluster RPC ports whose traffic with private peers marks an instance as an EMR node."""
MAX_PROBE_DETAILS: Final = 20
PORT_PROBES: Final = "portProbes"
"""The ``info`` member ``keibi.findings.actions.port_probe_action`` turns into ``portProbeDetails``."""

_KNOWN = pl.col("remote_feed_category").is_in(KNOWN_SCANNERS).fill_null(False)
PROBE: Final = (
    (pl.col("protocol") == TCP)
    & (pl.col("action") == "ACCEPT")
    & (pl.col("direction") == "INBOUND")
    & (pl.col("dstaddr") == pl.col("local_ip"))
    & ~pl.col("remote_private").fill_null(True)
    & ~pl.col("local_port").is_in(PUBLIC_BY_DESIGN)
    & (NO_PAYLOAD | _KNOWN)
).fill_null(False)
"""Accepted inbound TCP from a public host that may be a probe (row level; hosts are judged later)."""
_SERVER_PORT = pl.min_horizontal("srcport", "dstport")
CLUSTER: Final = (
    (pl.col("protocol") == TCP)
    & (pl.col("action") == "ACCEPT")
    & pl.col("remote_private").fill_null(False)
    & _SERVER_PORT.is_in(EMR_CLUSTER_PORTS)
    & ~NO_PAYLOAD
).fill_null(False)
"""Data exchanged with a private peer on a Hadoop cluster port: the interface is an EMR node's."""


@detectors.register(
    "network.port_probe",
    source="vpc_flow",
    emits=(UNPROTECTED_PORT, EMR_UNPROTECTED_PORT),
    window=lambda ctx: ctx.settings.port_probe_window,
    prefilter=PROBE | CLUSTER,
)
def port_probe(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    framed = flows.with_columns(
        resource(), pl.col("event_time").dt.truncate(s.port_probe_window).alias("bucket")
    )
    node = ["account_id", "region", "resource", "bucket"]
    host = [*node, "local_port", "remote_ip"]
    group = [*node, "family"]
    candidates = framed.filter(PROBE, not_trusted()).with_columns(
        _KNOWN.alias("known"),
        pl.col("local_port")
        .replace_strict(PORT_FAMILIES, default=pl.col("local_port").cast(pl.String), return_dtype=pl.String)
        .alias("family"),
    )
    listed = pl.col("known").any().over(host)
    attempts = pl.col("remote_port").n_unique().over(host)
    probes = candidates.filter(listed | (NO_PAYLOAD & (attempts <= s.port_probe_max_attempts)))
    hosts = pl.col("remote_ip").n_unique().over(group)
    scanners = pl.col("remote_ip").filter(pl.col("known")).n_unique().over(group)
    probed = probes.filter((scanners >= 1) | (hosts >= s.port_probe_min_sources))
    if probed.is_empty():
        return no_hits()
    emr_nodes = framed.filter(CLUSTER).group_by(node).agg(_SERVER_PORT.min().alias("clusterPort"))
    probed = probed.join(emr_nodes, on=node, how="left").with_columns(
        (pl.col("clusterPort").is_not_null() & pl.col("local_port").is_in(EMR_PORTS)).alias("emr")
    )
    probed = probed.join(_details(probed, group), on=group, how="left")
    info = pl.struct(
        "probedPorts",
        "probingHosts",
        "knownScanners",
        pl.when(pl.col("emr")).then(pl.col("clusterPort")).alias("clusterPort"),
        "threatListName",
        pl.when(pl.col("threatListName").is_not_null())
        .then(pl.lit(list(KNOWN_SCANNERS)))
        .alias("threatNames"),
        PORT_PROBES,
    ).struct.json_encode()
    severity = (
        pl.when(pl.col("local_port").is_in(ELASTICSEARCH))
        .then(float(Severity.HIGH))
        .otherwise(float(Severity.LOW))
    )
    key = ("resource", "family")
    return pl.concat(
        [
            hits(probed.filter(~pl.col("emr")), UNPROTECTED_PORT, key=key, severity=severity, info=info),
            hits(probed.filter(pl.col("emr")), EMR_UNPROTECTED_PORT, key=key, info=info),
        ]
    )


def _details(probed: pl.DataFrame, group: list[str]) -> pl.DataFrame:
    """Per probed port family (``group``): the counts and the bounded list of probes for the
    finding, one per prober and local port, known scanners first, then by first knock."""
    per_probe = (
        probed.group_by([*group, "remote_ip", "local_port"])
        .agg(
            pl.col("known").any(),
            pl.col("event_time").min().alias("first"),
            pl.col("local_ip").sort_by("event_time").first(),
            pl.col("remote_feed").filter(pl.col("known")).first(),
        )
        .sort("known", "first", "remote_ip", "local_port", descending=[True, False, False, False])
    )
    probe = pl.struct(
        pl.col("local_port").alias("localPort"),
        pl.col("local_ip").alias("localIp"),
        pl.col("remote_ip").alias("remoteIp"),
    )
    return per_probe.group_by(group, maintain_order=True).agg(
        pl.col("local_port").unique().sort().alias("probedPorts"),
        pl.col("remote_ip").n_unique().cast(pl.Int64).alias("probingHosts"),
        pl.col("remote_ip").filter(pl.col("known")).n_unique().cast(pl.Int64).alias("knownScanners"),
        probe.head(MAX_PROBE_DETAILS).alias(PORT_PROBES),
        pl.col("remote_feed").drop_nulls().first().alias("threatListName"),
    )
