"""DefenseEvasion:EC2/UnusualDNSResolver, UnusualDoHActivity and UnusualDoTActivity.

GuardDuty's triggers: flow logs show the instance sending DNS to a public resolver (port 53),
DNS over HTTPS to a known public DoH server, or DNS over TLS (port 853) to a public server, none
of which it has a recent history of contacting. Name resolution that leaves the VPC resolver
escapes its query logs, DNS Firewall and GuardDuty's DNS findings, which is why malware does it.

**What counts.** The instance's own accepted connections to public, non-trusted hosts
(``_flows.OWN_CONNECTION``); the VPC resolver (``.2`` of the VPC, 169.254.169.253) is private
and never counts. Per record, one kind:

- resolver: remote port 53 over UDP or TCP;
- DoT: remote TCP port 853;
- DoH: remote port 443 over TCP or UDP (HTTP/3) to an address in
  ``keibi/detect/behavior/data/doh_servers.txt`` (Cloudflare, Google, Quad9, OpenDNS, AdGuard,
  CleanBrowsing, NextDNS, Mullvad, DNS.SB, Control D, Alibaba, DNSPod, Yandex; addresses that
  serve DNS only, so web traffic never matches).

**The rule.** Windowed on ``behavior_window`` (1 hour; the prefilter keeps only these
records, plus each instance's earliest one, ``_flows.FIRST_RECORD``, for learning). The
instance is established (``behavior_learning``, 7 days, and its account
``behavior_account_learning``, 14 days, before the window), and the server address is new for it
in that kind (first seen inside the window; this detector's profile, folded first). For
UnusualDNSResolver the address must also be new for the account's fleet (no instance of the
account used it before: a fleet that resolves through 8.8.8.8 is configured so), and the
instance must not be resolving recursively itself: a resolver (Unbound, BIND) talks to root,
TLD and authoritative servers, a new one every few queries, so an instance that sent DNS to
``dns_recursion_min_servers`` (10) distinct public hosts in the window, or had that many before
it, raises no UnusualDNSResolver. DoH and DoT need no fleet check: their servers are few and
named, and an instance starting to use one is the signal.

One finding per (instance, server address, type), the instance as ``ACTOR``, its evidence the
new server's records in the window it was new. ``additionalInfo``: ``explanation`` (against the
servers of that kind the instance used), ``unusual`` (``resolver``, ``remotePort``,
``protocol``) and ``anomaly`` (known servers by frequency word, the new one as UNSEEN).
"""

from __future__ import annotations

import ipaddress
from importlib.resources import files
from typing import Final

import polars as pl

from keibi.detect import DetectContext, FindingType, Severity, detectors, hits, no_hits
from keibi.detect.behavior._anomaly import anomaly_object
from keibi.detect.behavior._flows import (
    COLUMNS,
    FIRST_RECORD,
    OWN_CONNECTION,
    PROTOCOL,
    TCP,
    UDP,
    fold_both,
    history_days,
    judged,
    usual,
    with_keys,
)
from keibi.detect.behavior.profile import empty, is_new, recall


def _doh_servers() -> tuple[str, ...]:
    """The shipped DoH addresses, IPv6 in every textual form a flow log may write, either case."""
    text = files("keibi.detect.behavior").joinpath("data/doh_servers.txt").read_text(encoding="utf-8")
    forms: set[str] = set()
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        ip = ipaddress.ip_address(entry)
        forms.update((ip.compressed, ip.exploded))
        if ip.version == 6:
            forms.add(":".join(f"{int(group, 16):x}" for group in ip.exploded.split(":")))
    # Upper-case forms too, so the batch's addresses are matched as written, not lower-cased first.
    return tuple(sorted(forms | {form.upper() for form in forms}))


UNUSUAL_DNS_RESOLVER = FindingType(
    type="DefenseEvasion:EC2/UnusualDNSResolver",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="behavior",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is communicating with an unusual public DNS resolver.",
    description=(
        "EC2 instance {resource_id} is sending DNS traffic to public resolver {remote_ip}, which it "
        "has no recent history of using: it may be bypassing the VPC resolver to evade DNS monitoring."
    ),
)
UNUSUAL_DOH = FindingType(
    type="DefenseEvasion:EC2/UnusualDoHActivity",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="behavior",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is performing unusual DNS over HTTPS communication.",
    description=(
        "EC2 instance {resource_id} is connecting to public DNS-over-HTTPS server {remote_ip}, which "
        "it has no recent history of contacting: encrypted DNS hides its lookups from the VPC resolver."
    ),
)
UNUSUAL_DOT = FindingType(
    type="DefenseEvasion:EC2/UnusualDoTActivity",
    severity=Severity.MEDIUM,
    data_sources=("vpc_flow",),
    resource_type="Instance",
    detection="behavior",
    action_type="NETWORK_CONNECTION",
    title="EC2 instance {resource_id} is performing unusual DNS over TLS communication.",
    description=(
        "EC2 instance {resource_id} is connecting to {remote_ip} on TCP port 853 (DNS over TLS), a "
        "server it has no recent history of contacting: encrypted DNS hides its lookups from the VPC resolver."
    ),
)

ID: Final = "behavior.dns_bypass"
DOH_SERVERS: Final = _doh_servers()
RESOLVER: Final = "dns_resolver"
DOH: Final = "doh_server"
DOT: Final = "dot_server"
DNS_PORT: Final = (pl.col("remote_port") == 53) & pl.col("protocol").is_in([TCP, UDP])
DOT_PORT: Final = (pl.col("remote_port") == 853) & (pl.col("protocol") == TCP)
DOH_PORT: Final = (
    (pl.col("remote_port") == 443)
    & pl.col("protocol").is_in([TCP, UDP])
    & pl.col("remote_ip").is_in(DOH_SERVERS)
)
CANDIDATE: Final = (OWN_CONNECTION & (DNS_PORT | DOT_PORT | DOH_PORT)).fill_null(False)
KIND: Final = pl.when(DNS_PORT).then(pl.lit(RESOLVER)).when(DOT_PORT).then(pl.lit(DOT)).otherwise(pl.lit(DOH))

# Per kind: its finding type, its name in the anomaly, and how the explanation names it.
TYPES: Final = {RESOLVER: UNUSUAL_DNS_RESOLVER, DOH: UNUSUAL_DOH, DOT: UNUSUAL_DOT}
FEATURE_NAMES: Final = {RESOLVER: "dnsResolver", DOH: "dohServer", DOT: "dotServer"}
FIRST_USE: Final = {
    RESOLVER: "first DNS traffic ({}/{}) to public resolver {} by this instance in {} days of history; "
    "public resolvers it used: {}",
    DOH: "first HTTPS ({}/{}) to DNS-over-HTTPS server {} by this instance in {} days of history; "
    "DoH servers it used: {}",
    DOT: "first DNS-over-TLS ({}/{}) to {} by this instance in {} days of history; DoT servers it used: {}",
}
NONE_USED: Final = {RESOLVER: "none (only the VPC resolver)", DOH: "none", DOT: "none"}


@detectors.register(
    ID,
    source="vpc_flow",
    emits=tuple(TYPES.values()),
    window=lambda ctx: ctx.settings.behavior_window,
    prefilter=CANDIDATE | FIRST_RECORD,
    columns=COLUMNS,
)
def dns_bypass(flows: pl.DataFrame, ctx: DetectContext) -> pl.DataFrame:
    settings = ctx.settings
    window = settings.behavior_window
    rows = with_keys(flows, window).with_columns(pl.when(CANDIDATE).then(KIND).alias("_kind"))
    rows = rows.with_columns(  # the window's distinct public DNS servers: many is recursion
        pl.col("remote_ip")
        .filter(pl.col("_kind") == RESOLVER)
        .n_unique()
        .over("resource", "_start")
        .alias("_servers")
    )

    def server(kind: str) -> pl.Expr:
        return pl.when(pl.col("_kind") == kind).then(pl.col("remote_ip"))

    profile = fold_both(
        ctx.profiles.get(ID, empty()),
        rows,
        settings,
        instance={kind: server(kind) for kind in TYPES},
        fleet={RESOLVER: server(RESOLVER)},
    )
    ctx.profiles[ID] = profile
    rows = judged(rows.filter(pl.col("_kind").is_not_null()), profile, settings).filter(
        pl.col("_established")
    )
    found = []
    for kind, ftype in TYPES.items():
        part = recall(
            rows.filter(pl.col("_kind") == kind),
            profile,
            entity="resource",
            feature=kind,
            value="remote_ip",
            prefix="_own",
        ).filter(is_new("_own_first_seen", window))
        if kind == RESOLVER:
            part = _not_recursive(part, profile, settings.dns_recursion_min_servers)
            part = recall(part, profile, entity="fleet", feature=kind, value="remote_ip", prefix="_fleet")
            part = part.filter(is_new("_fleet_first_seen", window))
        if part.is_empty():
            continue
        part = usual(part, profile, kind)
        found.append(
            hits(part, ftype, key=("resource", "remote_ip"), resource_role="ACTOR", info=_info(kind))
        )
    return pl.concat(found) if found else no_hits()


def _not_recursive(rows: pl.DataFrame, profile: pl.DataFrame, limit: int) -> pl.DataFrame:
    """``rows`` of instances that are no recursive resolvers: fewer than ``limit`` distinct
    public DNS servers in the window (``_servers``) and fewer known before it."""
    keys = rows.select("resource", "_start").unique()
    known = profile.filter(pl.col("feature") == RESOLVER).select(
        pl.col("entity").alias("resource"), pl.col("first_seen").alias("_first")
    )
    before = (
        keys.join(known, on="resource", how="inner")
        .filter(pl.col("_first") < pl.col("_start"))
        .group_by("resource", "_start")
        .agg(pl.len().alias("_servers_before"))
    )
    return (
        rows.join(before, on=["resource", "_start"], how="left", maintain_order="left")
        .filter(pl.col("_servers") < limit, pl.col("_servers_before").fill_null(0) < limit)
        .drop("_servers_before")
    )


def _info(kind: str) -> pl.Expr:
    feature = FEATURE_NAMES[kind]
    first = pl.format(
        FIRST_USE[kind],
        PROTOCOL,
        pl.col("remote_port").cast(pl.String),
        pl.col("remote_ip"),
        history_days("_since"),
        pl.col("_usual").fill_null(NONE_USED[kind]),
    )
    sentences = [first]
    server = pl.concat_list(pl.col("remote_ip"))
    unusual = [pl.struct(anomaly_object("UNSEEN", server).alias(feature)).alias("instance")]
    if kind == RESOLVER:
        sentences.append(
            pl.format(
                "no instance in account {} used resolver {} in its {} days of history",
                pl.col("account_id"),
                pl.col("remote_ip"),
                history_days("_fleet_since"),
            )
        )
        unusual.append(pl.struct(anomaly_object("UNSEEN", server).alias(feature)).alias("account"))
    anomaly = pl.struct(
        pl.struct(pl.struct(pl.col("_usual_profiles").alias(feature)).alias("instance")).alias("profiles"),
        pl.struct(pl.struct(*unusual).alias("behavior")).alias("unusual"),
    )
    return pl.struct(
        pl.concat_list(*sentences).alias("explanation"),
        pl.struct(
            pl.col("remote_ip").alias("resolver"),
            pl.col("remote_port").alias("remotePort"),
            PROTOCOL.alias("protocol"),
        ).alias("unusual"),
        anomaly.alias("anomaly"),
    ).struct.json_encode()
