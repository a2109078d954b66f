"""Benign look-alikes of the probing scenarios (``keibi.tester.scenarios_probes``). They must raise nothing.

Connections that carry nothing are everyday traffic: Route 53 health checkers open and close
a TCP connection to an instance every 30 seconds from a handful of public addresses; an uptime
monitor checks hundreds of outside endpoints on one port; a Kubernetes monitor checks 30 NodePorts of
one node. They differ from probes in what the flow records show: the checkers come back again
and again, the endpoints and ports answer. Connections to many outside hosts on one port, a
mail relay's, carry data. The EMR cluster's own traffic is here too: it is what marks the
master as an EMR node, and it must not look like anything itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from keibi.tester.flowlogs import SYN, SYN_FIN, SYNACK_FIN, ip_strings, public_ips
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.vec import arange, where
from keibi.tester.world import Host

SYNACK: Final = 18
WINDOW: Final = 600  # the VPC flow log's capture window: a long connection is one record per window


def _pool(run: Run, n: int) -> pl.Series:
    """``n`` outside addresses, none of them a named address of the world."""
    return ip_strings(public_ips(run.vec, n, list(run.world.ips.values())))


def _both(run: Run, client: Host, server: Host, **cols: object) -> None:
    """One set of sessions as both interfaces log it."""
    run.sessions(client, "client", client_ip=client.ip, server_ip=server.ip, **cols)
    run.sessions(server, "server", client_ip=client.ip, server_ip=server.ip, **cols)


def emr_cluster(run: Run) -> Background:
    """Two core nodes and the EMR master: NodeManager and DataNode heartbeats (long connections,
    one record per window), container launches, HDFS block transfers between the cores."""
    w, tag = run.world, "background:emr-cluster"
    master, cores = w.hosts["emr-master"], (w.hosts["emr-core-1"], w.hosts["emr-core-2"])
    windows = arange(run.start, run.end, WINDOW)
    n = len(windows)
    for core in cores:
        for port, beats in ((8025, 600), (8020, 200)):  # YARN resource tracker; HDFS NameNode
            _both(
                run,
                core,
                master,
                client_port=run.rng.randrange(32768, 61000),
                server_port=port,
                protocol=6,
                start=windows,
                end=windows + WINDOW - 1,
                c_packets=beats + run.vec.integers(0, 20, n),
                c_bytes=beats * run.vec.integers(150, 260, n),
                c_flags=0,
                s_packets=beats + run.vec.integers(0, 20, n),
                s_bytes=beats * run.vec.integers(90, 140, n),
                s_flags=0,
                action="ACCEPT",
                internet=False,
                tag=tag,
            )
        # the ResourceManager launches containers on the core's NodeManager (8041)
        k = 40
        start = run.times(k, run.start, run.end - run.start)
        _both(
            run,
            master,
            core,
            client_port=run.ephemeral(k),
            server_port=8041,
            protocol=6,
            start=start,
            end=start + 1,
            c_packets=run.vec.integers(12, 30, k),
            c_bytes=run.vec.integers(4_000, 20_000, k),
            c_flags=SYN_FIN,
            s_packets=run.vec.integers(10, 20, k),
            s_bytes=run.vec.integers(1_500, 6_000, k),
            s_flags=SYNACK_FIN,
            action="ACCEPT",
            internet=False,
            tag=tag,
        )
    # HDFS block replication between the cores (DataNode data transfer, 9866)
    k = 60
    start = run.times(k, run.start, run.end - run.start)
    _both(
        run,
        cores[0],
        cores[1],
        client_port=run.ephemeral(k),
        server_port=9866,
        protocol=6,
        start=start,
        end=start + run.vec.integers(2, 9, k),
        c_packets=run.vec.integers(20_000, 95_000, k),
        c_bytes=run.vec.integers(30_000_000, 134_000_000, k),
        c_flags=SYN_FIN,
        s_packets=run.vec.integers(5_000, 20_000, k),
        s_bytes=run.vec.integers(300_000, 1_200_000, k),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=False,
        tag=tag,
    )
    return Background(
        "emr-cluster",
        "vpc_flow",
        "an EMR cluster's master and two core nodes: heartbeats, container launches, HDFS replication",
    )


def route53_health_checks(run: Run) -> Background:
    """16 Route 53 health checkers connect to web-3's admin API (8443) and close, every 30 s
    (at scale 1; the interval follows the scale, never past five minutes: 12 a window)."""
    tag, host = "background:route53-health-checks", run.world.hosts["web-3"]
    checkers = _pool(run, 16)
    interval = min(300, max(15, int(30 / run.scale)))
    for ip in checkers.to_list():
        start = arange(run.start + run.rng.randrange(interval), run.end, interval)
        n = len(start)
        run.sessions(
            host,
            "server",
            client_ip=ip,
            client_port=run.ephemeral(n),
            server_ip=host.ip,
            server_port=8443,
            protocol=6,
            start=start,
            end=start + 1,
            c_packets=4,
            c_bytes=216,
            c_flags=SYN_FIN,
            s_packets=3,
            s_bytes=164,
            s_flags=SYNACK_FIN,
            action="ACCEPT",
            internet=True,
            tag=tag,
        )
    return Background(
        "route53-health-checks",
        "vpc_flow",
        "16 public health checkers open and close a TCP connection to web-3:8443 every 30 seconds (scale 1)",
    )


def partner_sftp(run: Run) -> Background:
    """12 partners upload files to the SFTP gateway; scanners' knocks are rejected (its security
    group admits the partners only)."""
    tag, host = "background:partner-sftp", run.world.hosts["sftp-gw"]
    partners = _pool(run, 12)
    n = 30
    start = run.times(n, run.start, run.end - run.start - 60)
    run.sessions(
        host,
        "server",
        client_ip=partners.gather(run.vec.integers(0, len(partners), n)),
        client_port=run.ephemeral(n),
        server_ip=host.ip,
        server_port=22,
        protocol=6,
        start=start,
        end=start + run.vec.integers(5, 50, n),
        c_packets=run.vec.integers(800, 3_000, n),
        c_bytes=run.vec.integers(1_000_000, 4_000_000, n),
        c_flags=SYN_FIN,
        s_packets=run.vec.integers(400, 1_500, n),
        s_bytes=run.vec.integers(30_000, 90_000, n),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    k = 25
    start = run.times(k, run.start, run.end - run.start)
    run.sessions(
        host,
        "server",
        client_ip=_pool(run, k),
        client_port=run.ephemeral(k),
        server_ip=host.ip,
        server_port=22,
        protocol=6,
        start=start,
        end=start,
        c_packets=1,
        c_bytes=60,
        c_flags=SYN,
        s_packets=0,
        s_bytes=0,
        s_flags=0,
        action="REJECT",
        internet=True,
        tag=tag,
    )
    return Background(
        "partner-sftp",
        "vpc_flow",
        "12 partners upload over SFTP (22); 25 internet scanners' knocks on the same port are rejected",
    )


def uptime_checks(run: Run) -> Background:
    """The monitoring host checks 300 outside endpoints (at scale 1) on 443 every five minutes
    with a TCP connect: nothing sent, but every endpoint completes the handshake and closes."""
    tag, host = "background:uptime-checks", run.world.hosts["monitor"]
    endpoints = _pool(run, max(20, int(300 * run.scale)))
    rounds = arange(run.start + 45, run.end, 300)
    n = len(endpoints) * len(rounds)
    start = rounds.gather(arange(n) // len(endpoints)) + run.vec.integers(0, 40, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=endpoints.gather(arange(n) % len(endpoints)),
        server_port=443,
        protocol=6,
        start=start,
        end=start + 1,
        c_packets=4,
        c_bytes=216,
        c_flags=SYN_FIN,
        s_packets=2,
        s_bytes=112,
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return Background(
        "uptime-checks",
        "vpc_flow",
        f"the monitor TCP-checks {len(endpoints)} outside endpoints on 443 every five minutes",
    )


def nodeport_checks(run: Run) -> Background:
    """The monitoring host checks 30 Kubernetes NodePorts of app-2 every minute (at scale 1;
    the interval follows the scale, never past ten minutes), connecting and closing."""
    w, tag = run.world, "background:nodeport-checks"
    monitor, node = w.hosts["monitor"], w.hosts["app-2"]
    rounds = arange(run.start + 20, run.end, min(600, max(30, int(60 / run.scale))))
    ports = arange(30000, 30030)
    n = len(ports) * len(rounds)
    start = rounds.gather(arange(n) // len(ports)) + run.vec.integers(0, 10, n)
    _both(
        run,
        monitor,
        node,
        client_port=run.ephemeral(n),
        server_port=ports.gather(arange(n) % len(ports)),
        protocol=6,
        start=start,
        end=start + 1,
        c_packets=4,
        c_bytes=216,
        c_flags=SYN_FIN,
        s_packets=2,
        s_bytes=112,
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=False,
        tag=tag,
    )
    return Background(
        "nodeport-checks", "vpc_flow", "the monitor checks 30 NodePorts of app-2 every minute (scale 1)"
    )


def mail_relay(run: Run) -> Background:
    """app-1 delivers transactional mail straight to recipients' MX hosts on port 25; a few MX
    hosts are down (SYN retransmitted, no answer)."""
    tag, host = "background:mail-relay", run.world.hosts["app-1"]
    mx = _pool(run, 400)
    n = max(60, int(600 * run.scale))
    dead = run.vec.random(len(mx)) < 0.03
    target = run.vec.integers(0, len(mx), n)
    down = dead.gather(target)
    start = run.times(n, run.start, run.end - run.start)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=mx.gather(target),
        server_port=25,
        protocol=6,
        start=start,
        end=start + where(down, 20, 2),
        c_packets=where(down, 3, run.vec.integers(12, 40, n)),
        c_bytes=where(down, 180, run.vec.integers(3_000, 60_000, n)),
        c_flags=where(down, SYN, SYN_FIN),
        s_packets=where(down, 0, run.vec.integers(10, 20, n)),
        s_bytes=where(down, 0, run.vec.integers(800, 1_500, n)),
        s_flags=where(down, 0, SYNACK_FIN),
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return Background(
        "mail-relay", "vpc_flow", "app-1 delivers mail to 400 MX hosts on port 25, a few of them down"
    )


def es_clients(run: Run) -> Background:
    """app-2 queries the Elasticsearch node on 9200 (private: not a probe)."""
    w, tag = run.world, "background:es-clients"
    app, es = w.hosts["app-2"], w.hosts["es-node"]
    n = max(50, int(700 * run.scale))
    start = run.times(n, run.start, run.end - run.start)
    _both(
        run,
        app,
        es,
        client_port=run.ephemeral(n),
        server_port=9200,
        protocol=6,
        start=start,
        end=start + 1,
        c_packets=run.vec.integers(6, 14, n),
        c_bytes=run.vec.integers(900, 4_000, n),
        c_flags=SYN_FIN,
        s_packets=run.vec.integers(6, 30, n),
        s_bytes=run.vec.integers(2_000, 40_000, n),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=False,
        tag=tag,
    )
    return Background("es-clients", "vpc_flow", "app-2 queries the Elasticsearch node on 9200")


PROBE_BACKGROUND: Final[tuple[Callable[[Run], Background], ...]] = (
    emr_cluster,
    route53_health_checks,
    partner_sftp,
    uptime_checks,
    nodeport_checks,
    mail_relay,
    es_clients,
)
