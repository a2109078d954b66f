"""Probing scenarios: an outbound port sweep, and internet scanners finding open ports.

Flow records of probes are tiny: a scanner's SYN and RST (two packets, about 100 bytes) and
the instance's SYN-ACK back when the port listens; a sweeping worm's SYN and its
retransmission to addresses that mostly never answer. The benign traffic of the same shape
(health checkers, uptime monitors, Hadoop's own cluster traffic that marks the EMR nodes)
is in ``keibi.tester.background_probes``; the outbound port scan is ``scenarios.portscan``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from keibi.tester.flowlogs import RST, SYN, ip_strings, public_ips
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.vec import where
from keibi.tester.world import Host

SYNACK: Final = 18
PROBE_FLAGS: Final = SYN | RST


def _scanners(run: Run, n: int) -> pl.Series:
    """``n`` internet addresses the scenarios own (never a named address of the world)."""
    return ip_strings(public_ips(run.vec, n, list(run.world.ips.values())))


def _key(host: Host, direction: str) -> dict[str, str]:
    return {"instance_id": str(host.instance_id), "interface_id": host.eni, "direction": direction}


def _knocks(run: Run, host: Host, port: int, scanners: pl.Series, t0: int, length: int, tag: str) -> int:
    """Each scanner knocks on ``port`` once (a fifth twice): SYN in, SYN-ACK back, RST in."""
    twice = scanners.head(max(1, len(scanners) // 5))
    knockers = pl.concat([scanners, twice])
    n = len(knockers)
    start = run.times(n, t0, length)
    run.sessions(
        host,
        "server",
        client_ip=knockers,
        client_port=run.ephemeral(n),
        server_ip=host.ip,
        server_port=port,
        protocol=6,
        start=start,
        end=start + run.vec.integers(0, 2, n),
        c_packets=2,
        c_bytes=run.vec.integers(96, 105, n),
        c_flags=PROBE_FLAGS,
        s_packets=1,
        s_bytes=60,
        s_flags=SYNACK,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return n


def port_sweep(run: Run) -> Scenario:
    """A worm on a forgotten CMS host sweeps Redis (6379) across 600 internet addresses in
    eight minutes: most never answer, some reset, a few open servers get its payload."""
    w, tag = run.world, "scenario:port-sweep"
    host = w.hosts["legacy-cms"]
    n = 600
    targets = _scanners(run, n)
    start = run.times(n, run.start + 3000, 480)
    roll = run.vec.random(n)
    opened, reset = roll < 0.008, (roll >= 0.008) & (roll < 0.05)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=targets,
        server_port=6379,
        protocol=6,
        start=start,
        end=start + where(opened, 2, where(reset, 0, 3)),
        c_packets=where(opened, 7, where(reset, 1, 2)),
        c_bytes=where(opened, 1460, where(reset, 60, 120)),
        c_flags=where(opened, 27, SYN),
        s_packets=where(opened, 6, where(reset, 1, 0)),
        s_bytes=where(opened, 820, 40),
        s_flags=where(opened, 27, RST),
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Impact:EC2/PortSweep",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        _key(host, "OUTBOUND"),
        f"{host.name} tries Redis (6379) on {n} internet addresses in eight minutes",
    )


def port_probe_ssh(run: Run) -> Scenario:
    """Internet scanners find the bastion's SSH port (open to the world for the admins): 40
    of them knock within 45 minutes (custom v5 flow log)."""
    w, tag = run.world, "scenario:port-probe-ssh"
    host = w.hosts["bastion"]
    knocks = _knocks(run, host, 22, _scanners(run, 40), run.start + 600, 2700, tag)
    return Scenario(
        tag.removeprefix("scenario:"),
        "Recon:EC2/PortProbeUnprotectedPort",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        _key(host, "INBOUND"),
        f"40 internet scanners knock {knocks} times on {host.name}'s open SSH port in 45 minutes",
    )


def port_probe_elasticsearch(run: Run) -> Scenario:
    """An Elasticsearch node left open to the internet: a known scanner (malicious feed) knocks
    on 9200 and 9300, and two unlisted hosts on 9200. High: Elasticsearch."""
    w, tag = run.world, "scenario:port-probe-elasticsearch"
    host = w.hosts["es-node"]
    others = _scanners(run, 2)
    knockers = pl.Series([w.ips["known_scanner"], w.ips["known_scanner"], *others.to_list()])
    ports = pl.Series([9200, 9300, 9200, 9200])
    start = run.start + 4000 + pl.Series([0, 4, 1300, 2500])
    run.sessions(
        host,
        "server",
        client_ip=knockers,
        client_port=run.ephemeral(4),
        server_ip=host.ip,
        server_port=ports,
        protocol=6,
        start=start,
        end=start + 1,
        c_packets=2,
        c_bytes=100,
        c_flags=PROBE_FLAGS,
        s_packets=1,
        s_bytes=60,
        s_flags=SYNACK,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Recon:EC2/PortProbeUnprotectedPort",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        _key(host, "INBOUND"),
        f"a known scanner probes {host.name}'s open Elasticsearch ports 9200 and 9300; two other hosts 9200",
    )


def port_probe_emr(run: Run) -> Scenario:
    """The EMR master's security group opened YARN's web UI (8088) to the internet; 10 scanners
    find it within 40 minutes. The cluster's own traffic, which marks the instance as an EMR
    node, is background (``background_probes.emr_cluster``)."""
    w, tag = run.world, "scenario:port-probe-emr"
    host = w.hosts["emr-master"]
    knocks = _knocks(run, host, 8088, _scanners(run, 10), run.start + 1000, 2400, tag)
    return Scenario(
        tag.removeprefix("scenario:"),
        "Recon:EC2/PortProbeEMRUnprotectedPort",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        _key(host, "INBOUND"),
        f"10 internet scanners knock {knocks} times on the EMR master's YARN web UI (8088)",
    )


PROBE_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    port_sweep,
    port_probe_ssh,
    port_probe_elasticsearch,
    port_probe_emr,
)
