"""UnauthorizedAccess:EC2/TorClient and UnauthorizedAccess:EC2/TorRelay.

GuardDuty's triggers: TorClient when the instance connects to Tor guard or directory
authority nodes (it runs a Tor client), TorRelay when its connections with the Tor network
follow the pattern of relaying traffic (it runs a Tor relay). Which addresses are Tor nodes
comes from the operator's feeds (``keibi.intel.feeds``): ``TorRelay`` (every relay in the
consensus: guards, middles, directory authorities; catalogue feed ``tor-relays``) and ``Tor``
(exits, catalogue feed ``tor-exits``, listed first so that an exit is reported as one). Tor
speaks TLS over TCP only, so other protocols never count (an NTP server that also runs a relay
is not a Tor peer).

**Relay.** A relay accepts connections from other relays extending circuits through it, and
opens connections to relays itself. So, per instance (or ENI) and event-time window of
``settings.tor_window`` (1 hour), keibi counts the distinct ``TorRelay`` addresses that opened
accepted connections to it (``direction`` INBOUND) and the distinct Tor nodes (either
category) it opened accepted connections to (OUTBOUND). At least
``settings.tor_relay_min_inbound`` (10) in and ``settings.tor_relay_min_outbound`` (3) out is a
relay. Exits connecting in do not count: they are Tor users browsing a public server, the
busiest benign pattern (a web site with Tor visitors); and the outbound side keeps a web
server quiet even when relay operators' own addresses visit it. The evidence is the window's
accepted flows with Tor nodes.

**Client.** Any connection the instance opened (OUTBOUND) to a Tor node, accepted or rejected
(a blocked attempt still says a Tor client runs there), in a window where the instance is not
a relay: a relay connects to relays all the time, and that is the relay finding, not a client.
Connections that Tor nodes open to the instance never make it a client.

Both types: one finding per instance and type, the instance as ``ACTOR`` (the remote party is
the Tor network, whose addresses change with every circuit); ``threatListName`` and
``threatNames`` name the feed and category of the latest connection.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits

TOR_CLIENT = FindingType(
    type="UnauthorizedAccess:EC2/TorClient",
    severity=Severity.HIGH,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is making connections to Tor network nodes.",
    description=(
        "EC2 instance {resource_id} is connecting to Tor node {remote_ip} on port {remote_port} "
        "(feed {threat_list}): it is running a Tor client, which can hide unauthorized access."
    ),
)
TOR_RELAY = FindingType(
    type="UnauthorizedAccess:EC2/TorRelay",
    severity=Severity.HIGH,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="threat_intel",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is acting as a Tor relay.",
    description=(
        "EC2 instance {resource_id} is relaying Tor traffic: {torRelaysInbound} Tor relays connected "
        "to it and it connected to {torNodesOutbound} Tor nodes within one window."
    ),
)

TCP: Final = 6
TOR_CATEGORIES: Final = ("Tor", "TorRelay")
CATEGORY: Final = pl.col("remote_feed_category")
CANDIDATE: Final = (
    CATEGORY.is_in(TOR_CATEGORIES)
    & (pl.col("protocol") == TCP)
    & pl.col("direction").is_in(["INBOUND", "OUTBOUND"])
).fill_null(False)
FEED_INFO: Final = [
    pl.col("remote_feed").alias("threatListName"),
    pl.concat_list(CATEGORY).alias("threatNames"),
]


@detectors.register(
    "network.tor",
    source="vpc_flow",
    emits=(TOR_CLIENT, TOR_RELAY),
    window=lambda ctx: ctx.settings.tor_window,
    prefilter=CANDIDATE,
)
def tor(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    settings = ctx.settings
    accepted = pl.col("action") == "ACCEPT"
    outbound = pl.col("direction") == "OUTBOUND"
    relay_in = accepted & (pl.col("direction") == "INBOUND") & (CATEGORY == "TorRelay")
    group = ["account_id", "region", "resource", "bucket"]
    rows = (
        flows.filter(CANDIDATE)
        .with_columns(
            pl.coalesce("instance_id", "interface_id").alias("resource"),
            pl.col("event_time").dt.truncate(settings.tor_window).alias("bucket"),
        )
        .with_columns(
            pl.col("remote_ip").filter(relay_in).n_unique().over(group).alias("relays_in"),
            pl.col("remote_ip").filter(accepted & outbound).n_unique().over(group).alias("nodes_out"),
        )
    )
    relay = (pl.col("relays_in") >= settings.tor_relay_min_inbound) & (
        pl.col("nodes_out") >= settings.tor_relay_min_outbound
    )
    relay_info = pl.struct(
        *FEED_INFO,
        pl.col("relays_in").alias("torRelaysInbound"),
        pl.col("nodes_out").alias("torNodesOutbound"),
    ).struct.json_encode()
    found = [
        hits(
            rows.filter(relay, accepted), TOR_RELAY, key=("resource",), resource_role="ACTOR", info=relay_info
        ),
        hits(
            rows.filter(~relay, outbound),
            TOR_CLIENT,
            key=("resource",),
            resource_role="ACTOR",
            info=pl.struct(*FEED_INFO).struct.json_encode(),
        ),
    ]
    found = [f for f in found if not f.is_empty()]
    return pl.concat(found) if found else no_hits()
