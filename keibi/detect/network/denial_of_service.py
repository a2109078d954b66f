"""Backdoor:EC2/DenialOfService.*: the instance floods one public host.

GuardDuty's triggers: flow logs show the instance sending a large volume of outbound traffic
to a publicly routable address, by protocol: ``.Tcp``, ``.Udp``, ``.Dns`` (port 53),
``.UdpOnTcpPorts`` (UDP aimed at a port only TCP services use) and ``.UnusualProtocol``
(an IP protocol other than TCP and UDP, such as IGMP or GRE). The instance is the ``ACTOR``
and probably compromised (a DDoS bot); all five are High.

How a flood looks in flow records, which are aggregates per 5-tuple over 60 s or 10 min:
a few records carrying a huge ``packets`` count (a tool sending from one or a handful of
sockets, as the GuardDuty tester's 400,000-datagram flood does), or thousands of one-packet
records (a new source port per packet), all towards one remote address, whose ``start`` to
``end`` span only the seconds the flood lasted. So keibi adds up, per instance (or ENI),
remote host, kind, IP protocol and event-time window of ``settings.dos_window`` (10 min), the
packets and bytes of the records the instance *sent* (source address its own) and those the
host sent back; for TCP only on connections the instance opened (see :data:`CANDIDATE`). It
is a flood when:

1. Volume: at least ``settings.dos_min_packets`` (100,000) packets were sent, at
   ``settings.dos_min_packets_per_second`` (5,000) or more over the span from the first
   record's start to the last one's end. The rate is what separates a flood from steady
   streams: a 4K video push (about 2,300 packets/s), NTP, syslog or metrics shipping
   normally never reach it, and a window's total alone would not tell a ten-second burst
   from ten minutes of streaming.
2. Shape, which separates it from big legitimate transfers that do reach such rates:

   - TCP: no payload either way, the mean size of the packets sent and of any replies at
     most 100 bytes (headers and options only): SYN, ACK and RST floods, answered by
     SYN-ACKs or RSTs if at all. A backup or upload sends full-size segments; a big download
     sends only ACKs, but gets full-size segments back. The reply *ratio* is no use for TCP:
     a fast receiver acknowledges a GRO batch with one ACK, so an upload can get back under
     a tenth as many packets as it sent.
   - Other protocols: the host answered at most ``settings.dos_max_reply_ratio`` (0.1) reply
     packets per packet sent. A DNS forwarder gets an answer per query, QUIC and tunnels
     (WireGuard, OpenVPN, IPsec ESP, GRE) carry acknowledgements back, SRT video returns an
     ACK every 10 ms; a flood's target answers nothing (ICMP unreachables are another
     protocol, counted apart) or a trickle.

The kind comes from each record's protocol and remote port: TCP or UDP to port 53 is
``.Dns``; other TCP is ``.Tcp``; UDP to a port in :data:`TCP_ONLY_PORTS` (HTTP 80, SMTP,
SSH, databases …; never 443, which HTTP/3 uses over UDP) is ``.UdpOnTcpPorts``; other UDP is
``.Udp``; any other protocol, ICMP included (GuardDuty has no ICMP type, and an ICMP flood
is one), is ``.UnusualProtocol``. Note the GuardDuty tester's UDP flood aims at port 80 and
expects ``.Udp``; keibi follows the documented trigger and calls that ``.UdpOnTcpPorts``.

Left quiet on purpose: private destinations (load tests and traffic inside the network;
GuardDuty only considers public targets), hosts on a trusted list (GuardDuty raises no flow
finding for them: the place for a peer that receives bulk one-way UDP, such as an Aspera FASP
partner or a syslog collector fed thousands of messages a second, which look like floods),
the instance as a flood's victim (it sends nothing) or as a server
(answering what it is asked), and floods whose target answers in kind (a DNS flood on a
resolver that replies to every query, an HTTP flood over completed connections): in flow
records they cannot be told from a busy forwarder or a load test.

One finding per instance, type and remote host, ``ACTOR``; its evidence is the sent records.
``additionalInfo``: ``protocol``, ``packets``, ``bytes``, ``packetsPerSecond``,
``replyPackets`` (of the window of the latest evidence) and, for ``.UnusualProtocol``,
``unusualProtocol``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits


def _dos(variant: str, how: str) -> FindingType:
    return FindingType(
        type=f"Backdoor:EC2/DenialOfService.{variant}",
        severity=Severity.HIGH,
        data_sources=("vpc_flow",),
        resource_type="Instance",
        detection="signature",
        action_type="NETWORK_CONNECTION",
        title=(
            "EC2 instance {resource_id} is behaving in a manner that may indicate it is being used "
            f"to perform a Denial of Service (DoS) attack using {how}."
        ),
        description=(
            "EC2 instance {resource_id} sent {packets} {protocol} packets to {remote_ip} at "
            "{packetsPerSecond} packets per second, and got {replyPackets} back. It may be compromised "
            "and taking part in a denial-of-service attack."
        ),
    )


DOS_TCP = _dos("Tcp", "the TCP protocol")
DOS_UDP = _dos("Udp", "the UDP protocol")
DOS_DNS = _dos("Dns", "the DNS protocol")
DOS_UDP_ON_TCP_PORTS = _dos("UdpOnTcpPorts", "the UDP protocol on a TCP port")
DOS_UNUSUAL_PROTOCOL = _dos("UnusualProtocol", "an unusual protocol")
TYPES: Final[dict[str, FindingType]] = {
    "Tcp": DOS_TCP,
    "Udp": DOS_UDP,
    "Dns": DOS_DNS,
    "UdpOnTcpPorts": DOS_UDP_ON_TCP_PORTS,
    "UnusualProtocol": DOS_UNUSUAL_PROTOCOL,
}

TCP, UDP, DNS_PORT = 6, 17, 53
HEADERS_ONLY_BYTES: Final = 100
"""Mean packet size at or below which TCP carried no payload: 20-byte IPv4 (40 IPv6) header
plus a 20- to 60-byte TCP header with options."""
TCP_ONLY_PORTS: Final = (
    *(20, 21, 22, 23, 25, 80, 110, 119, 139, 143, 179, 445, 465, 587, 993, 995),
    *(1433, 1521, 2375, 2376, 3306, 5432, 5900, 5985, 5986, 6379, 8080, 8443, 9200, 9300, 27017),
)
"""Ports whose services run over TCP only. Left out on purpose: 443 (QUIC), 53, 88, 123, 389
(CLDAP), 3389 (RDP's UDP transport), 11211, and every port games, VoIP and VPNs use."""
PROTOCOL_NAMES: Final[dict[int, str]] = {
    1: "ICMP",
    2: "IGMP",
    4: "IPIP",
    6: "TCP",
    17: "UDP",
    41: "IPV6",
    47: "GRE",
    50: "ESP",
    51: "AH",
    58: "ICMPV6",
    103: "PIM",
    132: "SCTP",
}

CANDIDATE = (
    ~pl.col("remote_private").fill_null(True)
    & ~pl.col("remote_trusted").fill_null(False)
    & pl.col("packets").is_not_null()
    & ((pl.col("protocol") != TCP) | (pl.col("direction") == "OUTBOUND"))
)
"""Rows a flood's totals are made of: to or from a public, untrusted host; for TCP only the
connections the instance opened (a flood's SYNs, ACKs or RSTs leave an ephemeral or arbitrary
port for the target's service port), which keeps a busy server's inbound traffic out of the
window buffer. Other protocols keep both directions whatever ``direction`` says: without
ports (ICMP, GRE, ESP) or with equal ones, each record's direction is its own, and the
replies are needed."""


def _kind() -> pl.Expr:
    proto, port = pl.col("protocol"), pl.col("remote_port")
    return (
        pl.when(proto.is_in([TCP, UDP]) & (port == DNS_PORT))
        .then(pl.lit("Dns"))
        .when(proto == TCP)
        .then(pl.lit("Tcp"))
        .when((proto == UDP) & port.is_in(TCP_ONLY_PORTS))
        .then(pl.lit("UdpOnTcpPorts"))
        .when(proto == UDP)
        .then(pl.lit("Udp"))
        .otherwise(pl.lit("UnusualProtocol"))
    )


@detectors.register(
    "network.denial_of_service",
    source="vpc_flow",
    emits=tuple(TYPES.values()),
    window=lambda ctx: ctx.settings.dos_window,
    prefilter=CANDIDATE,
)
def denial_of_service(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    s = ctx.settings
    group = ["account_id", "region", "resource", "remote_ip", "kind", "protocol", "bucket"]
    traffic = flows.filter(CANDIDATE).with_columns(
        pl.coalesce("instance_id", "interface_id").alias("resource"),
        _kind().alias("kind"),
        pl.col("event_time").dt.truncate(s.dos_window).alias("bucket"),
        (pl.col("srcaddr") == pl.col("local_ip")).fill_null(False).alias("sent"),
    )
    sent = pl.col("sent")
    totals = traffic.group_by(group).agg(
        pl.col("packets").filter(sent).sum().alias("packets"),
        pl.col("bytes").filter(sent).sum().alias("bytes"),
        pl.col("packets").filter(~sent).sum().alias("reply_packets"),
        pl.col("bytes").filter(~sent).sum().alias("reply_bytes"),
        pl.col("start").filter(sent).min().alias("first"),
        pl.col("end").filter(sent).max().alias("last"),
    )
    span = ((pl.col("last") - pl.col("first")).dt.total_seconds() + 1).clip(lower_bound=1)
    rate = pl.col("packets") / span
    volume = (pl.col("packets") >= s.dos_min_packets) & (rate >= s.dos_min_packets_per_second)
    headers_only = (pl.col("bytes") <= HEADERS_ONLY_BYTES * pl.col("packets")) & (
        pl.col("reply_bytes") <= HEADERS_ONLY_BYTES * pl.col("reply_packets")
    )
    one_sided = pl.col("reply_packets") <= s.dos_max_reply_ratio * pl.col("packets")
    shape = pl.when(pl.col("protocol") == TCP).then(headers_only).otherwise(one_sided)
    floods = totals.filter(volume.fill_null(False), shape.fill_null(False)).with_columns(
        rate.round(0).cast(pl.Int64).alias("rate")
    )
    if floods.is_empty():
        return no_hits()
    evidence = traffic.filter(sent).join(
        floods.select(*group, "packets", "bytes", "reply_packets", "rate").rename(
            {"packets": "total_packets", "bytes": "total_bytes"}
        ),
        on=group,
        how="inner",
        nulls_equal=True,
    )
    name = pl.col("protocol").replace_strict(
        PROTOCOL_NAMES, default=pl.col("protocol").cast(pl.String), return_dtype=pl.String
    )
    measured = [
        name.alias("protocol"),
        pl.col("total_packets").alias("packets"),
        pl.col("total_bytes").alias("bytes"),
        pl.col("rate").alias("packetsPerSecond"),
        pl.col("reply_packets").alias("replyPackets"),
    ]
    found = []
    for kind, ftype in TYPES.items():
        extra = [name.alias("unusualProtocol")] if kind == "UnusualProtocol" else []
        info = pl.struct(*measured, *extra).struct.json_encode()
        rows = evidence.filter(pl.col("kind") == kind)
        found.append(hits(rows, ftype, key=("resource", "remote_ip"), resource_role="ACTOR", info=info))
    return pl.concat(found, how="vertical")
