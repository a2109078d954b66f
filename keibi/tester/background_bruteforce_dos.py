"""Benign look-alikes of the brute-force and denial-of-service scenarios. They must raise nothing.

Remote logins that are not guessing: admins on RDP to ``win-1`` from the office (reconnects
and the UDP side channel included), a scanner fingerprinting its RDP service, Ansible opening
dozens of WinRM connections a minute from the CI runner inside the VPC, and a managed-service
provider's PowerShell remoting from its public address, a dozen connections at a time.
Volumes that reach a flood's rate but are not one (a restore from S3 at 1 Gb/s, whose
outbound side is nothing but ACKs; a DNS forwarder sending 5,000 queries a second to each
public resolver, every one answered) and streams that are one-sided but never reach it (an
SRT video push, a 4K RTP push with one RTCP report a second coming back).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl

from keibi.tester.flowlogs import SYN_FIN, SYNACK_FIN, ip_strings, public_ips
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.vec import arange

WINDOW: Final = 600


def _public(run: Run, n: int) -> list[str]:
    """``n`` outside addresses none of the scenarios use."""
    return [str(ip) for ip in ip_strings(public_ips(run.vec, n, list(run.world.ips.values()))).to_list()]


def _scaled(run: Run, base: int) -> int:
    return max(1, int(base * run.scale))


def _windows(run: Run, first: int, last: int) -> pl.Series:
    """Window starts from ``run.start + first`` to before ``run.start + last``."""
    return arange(run.start + first, run.start + last, WINDOW)


def _long_session(
    run: Run, starts: pl.Series, protocol: int, c: tuple[int, int], s: tuple[int, int]
) -> dict[str, Any]:
    """One connection reported window after window: same client port, full-window records."""
    n = len(starts)
    c_packets, s_packets = run.vec.integers(*c, n), run.vec.integers(*s, n)
    return {
        "client_port": run.rng.randrange(49152, 65535),
        "protocol": protocol,
        "start": starts,
        "end": starts + WINDOW - 1,
        "c_packets": c_packets,
        "c_bytes": c_packets * run.vec.integers(90, 400, n),
        "c_flags": 0,
        "s_packets": s_packets,
        "s_bytes": s_packets * run.vec.integers(600, 1400, n),
        "s_flags": 0,
        "action": "ACCEPT",
        "internet": True,
    }


def _connections(
    run: Run, n: int, t0: int, length: int, ports: tuple[int, int] = (49152, 65535)
) -> dict[str, Any]:
    """``n`` short TCP connections in ``[t0, t0 + length)`` that carry a few kilobytes each way."""
    start = run.times(n, t0, length)
    c_packets, s_packets = run.vec.integers(10, 60, n), run.vec.integers(10, 80, n)
    return {
        "client_port": run.vec.sample(arange(*ports), n),
        "protocol": 6,
        "start": start,
        "end": start + run.vec.integers(1, 20, n),
        "c_packets": c_packets,
        "c_bytes": c_packets * run.vec.integers(150, 600, n),
        "c_flags": SYN_FIN,
        "s_packets": s_packets,
        "s_bytes": s_packets * run.vec.integers(300, 1200, n),
        "s_flags": SYNACK_FIN,
        "action": "ACCEPT",
        "internet": True,
    }


def rdp_admins(run: Run) -> Background:
    """Four admin sessions on win-1 from the office: NLA, the session, its UDP side channel; one
    flaky session reconnects six times in ten minutes."""
    w, tag, host = run.world, "background:rdp-admins", run.world.hosts["win-1"]
    office = w.ips["office"]
    for first, last in ((600, 3000), (2400, 4200), (4800, 7200), (6000, 6600)):
        nla = _connections(run, 1, run.start + first, 5)
        run.sessions(host, "server", client_ip=office, server_ip=host.ip, server_port=3389, tag=tag, **nla)
        starts = _windows(run, first, last)
        for protocol in (6, 17):
            cols = _long_session(run, starts, protocol, (2_000, 20_000), (4_000, 90_000))
            run.sessions(
                host, "server", client_ip=office, server_ip=host.ip, server_port=3389, tag=tag, **cols
            )
    flaky = _connections(run, 6, run.start + 3600, 540)
    run.sessions(host, "server", client_ip=office, server_ip=host.ip, server_port=3389, tag=tag, **flaky)
    return Background(
        "rdp-admins",
        "vpc_flow",
        "admins RDP to win-1 from the office (TCP and the UDP side channel); "
        "one session reconnects six times",
    )


def rdp_fingerprinting(run: Run) -> Background:
    """A research scanner fingerprints win-1's RDP service: 15 connections in ten minutes, each
    going as far as the security negotiation; below the brute-force bar of 20."""
    tag, host = "background:rdp-fingerprinting", run.world.hosts["win-1"]
    cols = _connections(run, 15, run.start + 1800, 600)
    run.sessions(
        host, "server", client_ip=_public(run, 1)[0], server_ip=host.ip, server_port=3389, tag=tag, **cols
    )
    return Background(
        "rdp-fingerprinting",
        "vpc_flow",
        "a scanner fingerprints win-1's RDP with 15 connections in ten minutes",
    )


def winrm_management(run: Run) -> Background:
    """Ansible from the CI runner (inside the VPC) every half hour, 80 WinRM connections (at
    scale 1) in four minutes to each Windows server; an MSP's public address, 12 connections
    every twenty minutes."""
    w, tag = run.world, "background:winrm-management"
    runner, n = w.hosts["ci-runner"], _scaled(run, 80)
    for t0 in range(900, run.end - run.start, 1800):
        for name in ("win-1", "win-2"):
            host = w.hosts[name]
            cols = _connections(run, n, run.start + t0, 240, (32768, 61000))
            cols["internet"] = False
            for logged, side in ((runner, "client"), (host, "server")):
                run.sessions(
                    logged, side, client_ip=runner.ip, server_ip=host.ip, server_port=5986, tag=tag, **cols
                )
    msp, host = _public(run, 1)[0], w.hosts["win-1"]
    for t0 in range(300, run.end - run.start, 1200):
        cols = _connections(run, 12, run.start + t0, 300)
        run.sessions(host, "server", client_ip=msp, server_ip=host.ip, server_port=5986, tag=tag, **cols)
    return Background(
        "winrm-management",
        "vpc_flow",
        "Ansible over WinRM from the CI runner (80 connections per server per run); "
        "an MSP's PowerShell remoting from outside, 12 connections every twenty minutes",
    )


def s3_restore(run: Run) -> Background:
    """The backup host restores a volume from one S3 address at 1 Gb/s for five minutes: eight
    connections, 52-byte ACKs out (40,000 a second), full-size segments in."""
    tag, host = "background:s3-restore", run.world.hosts["backup"]
    s3 = f"52.217.{run.rng.randrange(0, 256)}.{run.rng.randrange(1, 255)}"
    n, t0 = 8, run.start + 3900
    acks = run.vec.integers(1_400_000, 1_600_000, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.vec.sample(arange(32768, 61000), n),
        server_ip=s3,
        server_port=443,
        protocol=6,
        start=t0,
        end=t0 + 299,
        c_packets=acks,
        c_bytes=acks * 52,
        c_flags=SYN_FIN,
        s_packets=acks * 2,
        s_bytes=acks * 2 * 1500,
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return Background("s3-restore", "vpc_flow", "a 1 Gb/s restore from one S3 address: only ACKs go out")


def dns_forwarder(run: Run) -> Background:
    """A forwarder for the whole estate: about 5,300 queries a second to each of two public
    resolvers, from 64 source ports per window (at scale 1), every query answered."""
    tag, host = "background:dns-forwarder", run.world.hosts["dns-forwarder"]
    starts = _windows(run, 0, run.end - run.start)
    n = _scaled(run, 64)  # the same queries over fewer ports at a smaller scale
    for resolver in ("8.8.8.8", "1.1.1.1"):
        for start in starts.to_list():
            queries = run.vec.integers(48_000, 52_000, n) * 64 // n
            run.sessions(
                host,
                "client",
                client_ip=host.ip,
                client_port=run.vec.sample(arange(32768, 61000), n),
                server_ip=resolver,
                server_port=53,
                protocol=17,
                start=start,
                end=start + WINDOW - 1,
                c_packets=queries,
                c_bytes=queries * run.vec.integers(70, 90, n),
                c_flags=0,
                s_packets=queries,
                s_bytes=queries * run.vec.integers(120, 260, n),
                s_flags=0,
                action="ACCEPT",
                internet=True,
                tag=tag,
            )
    return Background(
        "dns-forwarder",
        "vpc_flow",
        "a DNS forwarder sends ~5,300 queries/s to each of 8.8.8.8 and 1.1.1.1, all answered",
    )


def video_push(run: Run) -> Background:
    """The media encoder pushes a 6 Mb/s SRT stream (an ACK back every 10 ms) and a 4K RTP stream
    (2,300 packets/s, one RTCP report a second back) to two ingest points, for two hours."""
    tag, host = "background:video-push", run.world.hosts["media"]
    srt, rtp = _public(run, 2)
    starts = _windows(run, 0, run.end - run.start)
    n = len(starts)
    for ingest, port, pps, size, back in ((srt, 9000, 550, 1316, 100), (rtp, 5004, 2300, 1300, 1)):
        packets = pps * WINDOW + run.vec.integers(-500, 500, n)
        run.sessions(
            host,
            "client",
            client_ip=host.ip,
            client_port=40400,
            server_ip=ingest,
            server_port=port,
            protocol=17,
            start=starts,
            end=starts + WINDOW - 1,
            c_packets=packets,
            c_bytes=packets * size,
            c_flags=0,
            s_packets=back * WINDOW,
            s_bytes=back * WINDOW * 60,
            s_flags=0,
            action="ACCEPT",
            internet=True,
            tag=tag,
        )
    return Background(
        "video-push", "vpc_flow", "a 6 Mb/s SRT push and a 4K RTP push (2,300 packets/s) to two ingest points"
    )


BRUTE_FORCE_DOS: Final[tuple[Callable[[Run], Background], ...]] = (
    rdp_admins,
    rdp_fingerprinting,
    winrm_management,
    s3_restore,
    dns_forwarder,
    video_push,
)
