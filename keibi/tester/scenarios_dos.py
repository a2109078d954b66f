"""Denial of service: ``ddos-bot``, a compromised instance enlisted in a botnet, floods five
outside hosts over the two hours, one attack method each (``ACTOR``, High).

Flow records are aggregates, so a flood is a few records with huge packet counts, spanning
only the seconds it lasted: a tool sending from a handful of sockets (UDP, like the GuardDuty
tester's 400,000-datagram flood), a fresh source port per query (DNS), a range of raw source
ports cycled by a SYN flooder (TCP) or a port-less protocol (GRE, Mirai's ``greip``). The
benign traffic that reaches the same rates (a restore from S3, a busy DNS forwarder) and the
streams that do not (video pushes) are in ``keibi.tester.background_bruteforce_dos``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from keibi.tester.flowlogs import RST, SYN
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.vec import arange
from keibi.tester.world import Host

SYNACK: Final = 18


def _scenario(name: str, finding: str, host: Host, victim: str, what: str) -> Scenario:
    key = {
        "instance_id": str(host.instance_id),
        "interface_id": host.eni,
        "remote_ip": victim,
        "direction": "OUTBOUND",
    }
    return Scenario(name, finding, "vpc_flow", "Instance", str(host.instance_id), key, what)


def dos_udp(run: Run) -> Scenario:
    """Eight sockets, 540-byte datagrams to a game server's port for two minutes, 60,000 a second."""
    w, tag = run.world, "scenario:dos-udp"
    host, victim = w.hosts["ddos-bot"], w.ips["dos_udp_victim"]
    n, t0 = 8, run.start + 1500
    packets = run.vec.integers(880_000, 920_000, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.vec.sample(arange(32768, 61000), n),
        server_ip=victim,
        server_port=27015,
        protocol=17,
        start=t0 + run.vec.integers(0, 3, n),
        end=t0 + 120 + run.vec.integers(0, 3, n),
        c_packets=packets,
        c_bytes=packets * 568,
        c_flags=0,
        s_packets=0,
        s_bytes=0,
        s_flags=0,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag.removeprefix("scenario:"),
        "Backdoor:EC2/DenialOfService.Udp",
        host,
        victim,
        f"{host.name} floods {victim}:27015/udp from eight sockets, about 7 million datagrams in two minutes",
    )


def dos_udp_on_tcp_ports(run: Run) -> Scenario:
    """The GuardDuty tester's flood: 400,000 datagrams of 1,024 bytes from one socket to port 80."""
    w, tag = run.world, "scenario:dos-udp-on-tcp-ports"
    host, victim = w.hosts["ddos-bot"], w.ips["dos_udp_tcp_victim"]
    t0 = run.start + 2410
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(1),
        server_ip=victim,
        server_port=80,
        protocol=17,
        start=t0,
        end=t0 + 6,
        c_packets=400_000,
        c_bytes=400_000 * 1052,
        c_flags=0,
        s_packets=0,
        s_bytes=0,
        s_flags=0,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag.removeprefix("scenario:"),
        "Backdoor:EC2/DenialOfService.UdpOnTcpPorts",
        host,
        victim,
        f"{host.name} sends 400,000 UDP datagrams to {victim}:80, a TCP-only port, in six seconds",
    )


def dos_dns(run: Run) -> Scenario:
    """Junk to port 53 from a new socket per datagram; the overwhelmed server answers a few hundred."""
    w, tag = run.world, "scenario:dos-dns"
    host, victim = w.hosts["ddos-bot"], w.ips["dos_dns_victim"]
    n, t0 = 200, run.start + 3310
    packets = run.vec.integers(1_900, 2_100, n)
    answers = (run.vec.random(n) < 0.15).cast(int) * run.vec.integers(10, 20, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.vec.sample(arange(32768, 61000), n),
        server_ip=victim,
        server_port=53,
        protocol=17,
        start=t0 + run.vec.integers(0, 2, n),
        end=t0 + 18 + run.vec.integers(0, 3, n),
        c_packets=packets,
        c_bytes=packets * 92,
        c_flags=0,
        s_packets=answers,
        s_bytes=answers * 110,
        s_flags=0,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag.removeprefix("scenario:"),
        "Backdoor:EC2/DenialOfService.Dns",
        host,
        victim,
        f"{host.name} floods DNS server {victim} with 400,000 junk queries "
        "from 200 source ports in twenty seconds",
    )


def dos_tcp(run: Run) -> Scenario:
    """A SYN flood on 443 cycling 256 raw source ports for a minute; a quarter get a SYN-ACK (and the
    bot's kernel an RST to send)."""
    w, tag = run.world, "scenario:dos-tcp"
    host, victim = w.hosts["ddos-bot"], w.ips["dos_tcp_victim"]
    n, t0 = 256, run.start + 4510
    syns = run.vec.integers(4_500, 4_900, n)
    synacks = syns // 4
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=40_000 + arange(n),
        server_ip=victim,
        server_port=443,
        protocol=6,
        start=t0 + run.vec.integers(0, 2, n),
        end=t0 + 60 + run.vec.integers(0, 2, n),
        c_packets=syns + synacks,
        c_bytes=syns * 60 + synacks * 40,
        c_flags=SYN | RST,
        s_packets=synacks,
        s_bytes=synacks * 60,
        s_flags=SYNACK,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag.removeprefix("scenario:"),
        "Backdoor:EC2/DenialOfService.Tcp",
        host,
        victim,
        f"{host.name} SYN-floods {victim}:443 from 256 source ports, about 1.2 million SYNs in a minute",
    )


def dos_unusual_protocol(run: Run) -> Scenario:
    """GRE packets (IP protocol 47) with 512-byte payloads, in two bursts ten minutes apart."""
    w, tag = run.world, "scenario:dos-unusual-protocol"
    host, victim = w.hosts["ddos-bot"], w.ips["dos_proto_victim"]
    starts = arange(2) * 600 + run.start + 6310
    packets = run.vec.integers(600_000, 700_000, 2)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=0,
        server_ip=victim,
        server_port=0,
        protocol=47,
        start=starts,
        end=starts + 90,
        c_packets=packets,
        c_bytes=packets * 578,
        c_flags=0,
        s_packets=0,
        s_bytes=0,
        s_flags=0,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag.removeprefix("scenario:"),
        "Backdoor:EC2/DenialOfService.UnusualProtocol",
        host,
        victim,
        f"{host.name} floods {victim} with GRE packets, two 90-second bursts of over 600,000",
    )


DOS_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    dos_udp,
    dos_udp_on_tcp_ports,
    dos_dns,
    dos_tcp,
    dos_unusual_protocol,
)
