"""Threat-intel scenarios on VPC flow and Resolver logs: hosts the feeds know (``keibi.tester.lists``).

- ``c2-implant`` (an app server with an implant) beacons to its C2 server every minute and
  resolves the C2 domain as its TTL runs out; later it uploads stolen credentials to a drop
  point in batches, resolving the drop point's name before each.
- ``dga-bot`` runs a bot whose C2 is gone: it walks through the day's DGA names (word-list
  names, NXDOMAIN, one every 40 seconds) and checks in with its old hard-coded domain, now
  answered by a sinkhole.
- ``miner`` (the BitcoinTool.B!DNS scenario's host) also keeps a stratum session to a pool
  address on the mining feed.
- ``helpdesk`` (a support desktop) follows a phishing link and a drive-by download link.
- ``tor-client`` bootstraps Tor (directory authority, fallback directories) and then keeps a
  circuit through its guard for an hour, sending far more than it receives.
- ``tor-relay`` (public subnet) runs a relay on ORPort 9001: relays connect to it and it
  connects to relays, every connection lasting half an hour (three ten-minute records each way),
  and Tor clients use it as their guard.

See ``keibi.tester.scenarios`` for how scenarios are recorded and registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl

from keibi.tester.dnslogs import answers_json
from keibi.tester.flowlogs import SYN_FIN, SYNACK_FIN, ip_strings, public_ips
from keibi.tester.lists import (
    C2_DOMAIN,
    DRIVE_BY_DOMAIN,
    DROP_DOMAIN,
    PHISHING_DOMAIN,
    SINKHOLED_DOMAIN,
    dga_domains,
)
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.vec import arange
from keibi.tester.world import Host

HTTPS: Final = 443
OR_PORT: Final = 9001
TEN_MINUTES: Final = 600


def _flow_key(host: Host, remote_ip: str | None = None) -> dict[str, str]:
    key = {"instance_id": str(host.instance_id), "interface_id": host.eni, "direction": "OUTBOUND"}
    if remote_ip is not None:
        key["remote_ip"] = remote_ip
    return key


def _scenario(tag: str, finding: str, source: str, host: Host, key: dict[str, str], what: str) -> Scenario:
    return Scenario(
        tag.removeprefix("scenario:"), finding, source, "Instance", str(host.instance_id), key, what
    )


def _resolve(run: Run, host: Host, times: pl.Series, name: str, answer: str | None, tag: str) -> None:
    """``host`` asks for ``name`` at ``times`` (A records; NXDOMAIN when ``answer`` is None)."""
    n = len(times)
    run.queries(
        host,
        time=times,
        query_name=f"{name}.",
        query_type="A",
        rcode="NOERROR" if answer else "NXDOMAIN",
        answers=answers_json([answer], "A") if answer else "[]",
        srcport=run.ephemeral(n),
        tag=tag,
    )


def _long_sessions(run: Run, starts: pl.Series, windows: int, columns: dict[str, Any]) -> dict[str, Any]:
    """Connections lasting ``windows`` capture windows: one record per window and direction,
    as AWS reports a long connection (``columns`` hold one value, or one per connection)."""
    n = len(starts)
    index = pl.DataFrame({"conn": arange(n)}).join(pl.DataFrame({"w": arange(windows)}), how="cross")
    out = {k: v.gather(index["conn"]) if isinstance(v, pl.Series) else v for k, v in columns.items()}
    start = starts.gather(index["conn"]) + index["w"] * TEN_MINUTES
    m = len(start)
    return {
        **out,
        "start": start,
        "end": start + TEN_MINUTES - 1,
        "c_packets": run.vec.integers(200, 900, m),
        "c_bytes": run.vec.integers(150_000, 600_000, m),
        "c_flags": 0,
        "s_packets": run.vec.integers(200, 900, m),
        "s_bytes": run.vec.integers(150_000, 600_000, m),
        "s_flags": 0,
    }


# --- C2 implant -----------------------------------------------------------------------------------


def c2_activity(run: Run) -> Scenario:
    w, tag = run.world, "scenario:c2-activity"
    host, c2 = w.hosts["c2-implant"], w.ips["c2_server"]
    n = 100
    start = run.start + 600 + arange(n) * 60 + run.vec.integers(0, 10, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=c2,
        server_port=HTTPS,
        protocol=6,
        start=start,
        end=start + run.vec.integers(1, 3, n),
        c_packets=run.vec.integers(6, 11, n),
        c_bytes=run.vec.integers(900, 2500, n),
        c_flags=SYN_FIN,
        s_packets=run.vec.integers(5, 10, n),
        s_bytes=run.vec.integers(1200, 6000, n),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag, "Backdoor:EC2/C&CActivity.B", "vpc_flow", host, _flow_key(host, c2),
        f"{host.name} beacons over HTTPS to {c2}, on the C2 feed, every minute for 100 minutes",
    )  # fmt: skip


def c2_activity_dns(run: Run) -> Scenario:
    w, tag = run.world, "scenario:c2-activity-dns"
    host, name = w.hosts["c2-implant"], f"cdn.{C2_DOMAIN}"
    _resolve(run, host, run.start + 590 + arange(22) * 300, name, w.ips["c2_server"], tag)
    return _scenario(
        tag, "Backdoor:EC2/C&CActivity.B!DNS", "dns", host,
        {"instance_id": str(host.instance_id), "domain": name, "list_entry": C2_DOMAIN},
        f"{host.name} resolves {name} (C2 feed: {C2_DOMAIN}) every five minutes",
    )  # fmt: skip


def _drop_batches(run: Run) -> pl.Series:
    return run.start + 4200 + arange(4) * 700


def drop_point(run: Run) -> Scenario:
    """Four batches of stolen credentials and files, two parallel uploads each."""
    w, tag = run.world, "scenario:drop-point"
    host, drop = w.hosts["c2-implant"], w.ips["drop_point"]
    start = pl.concat([_drop_batches(run) + 5, _drop_batches(run) + 9]).sort()
    n = len(start)
    c_packets = run.vec.integers(4_000, 12_000, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=drop,
        server_port=HTTPS,
        protocol=6,
        start=start,
        end=start + run.vec.integers(60, 300, n),
        c_packets=c_packets,
        c_bytes=c_packets * 1400,
        c_flags=SYN_FIN,
        s_packets=c_packets // 2,
        s_bytes=c_packets * 33,
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag, "Trojan:EC2/DropPoint", "vpc_flow", host, _flow_key(host, drop),
        f"{host.name} uploads four batches of stolen data to {drop}, on the DropPoint feed",
    )  # fmt: skip


def drop_point_dns(run: Run) -> Scenario:
    w, tag = run.world, "scenario:drop-point-dns"
    host, name = w.hosts["c2-implant"], f"upload.{DROP_DOMAIN}"
    _resolve(run, host, _drop_batches(run), name, w.ips["drop_point"], tag)
    return _scenario(
        tag, "Trojan:EC2/DropPoint!DNS", "dns", host,
        {"instance_id": str(host.instance_id), "domain": name, "list_entry": DROP_DOMAIN},
        f"{host.name} resolves {name} (DropPoint feed) before each upload",
    )  # fmt: skip


# --- DGA bot and its sinkholed domain ----------------------------------------------------------------


def dga_domain_request(run: Run) -> Scenario:
    w, tag = run.world, "scenario:dga-domain-request"
    host = w.hosts["dga-bot"]
    names = dga_domains(w)[:160]
    n = len(names)
    times = run.start + 300 + arange(n) * 40 + run.vec.integers(0, 8, n)
    run.queries(
        host,
        time=times,
        query_name=[f"{name}." for name in names],
        query_type="A",
        rcode="NXDOMAIN",
        answers="[]",
        srcport=run.ephemeral(n),
        tag=tag,
    )
    return _scenario(
        tag, "Trojan:EC2/DGADomainRequest.C!DNS", "dns", host,
        {"instance_id": str(host.instance_id), "domain": names[-1]},
        f"{host.name} queries {n} names of a DGA feed's day list, all NXDOMAIN",
    )  # fmt: skip


def _check_ins(run: Run) -> pl.Series:
    return run.start + 250 + arange(12) * TEN_MINUTES


def blackhole_traffic_dns(run: Run) -> Scenario:
    w, tag = run.world, "scenario:blackhole-traffic-dns"
    host = w.hosts["dga-bot"]
    _resolve(run, host, _check_ins(run), SINKHOLED_DOMAIN, w.ips["sinkhole"], tag)
    return _scenario(
        tag, "Trojan:EC2/BlackholeTraffic!DNS", "dns", host,
        {"instance_id": str(host.instance_id), "domain": SINKHOLED_DOMAIN},
        f"{host.name} resolves its old C2 domain {SINKHOLED_DOMAIN}, now sinkholed, every ten minutes",
    )  # fmt: skip


def blackhole_traffic(run: Run) -> Scenario:
    w, tag = run.world, "scenario:blackhole-traffic"
    host, sinkhole = w.hosts["dga-bot"], w.ips["sinkhole"]
    start = _check_ins(run) + 1
    n = len(start)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=sinkhole,
        server_port=80,
        protocol=6,
        start=start,
        end=start + 1,
        c_packets=5,
        c_bytes=run.vec.integers(600, 900, n),
        c_flags=SYN_FIN,
        s_packets=4,
        s_bytes=380,
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return _scenario(
        tag, "Trojan:EC2/BlackholeTraffic", "vpc_flow", host, _flow_key(host, sinkhole),
        f"{host.name} checks in over HTTP with {sinkhole}, a sinkhole on the Blackhole feed",
    )  # fmt: skip


# --- miner ------------------------------------------------------------------------------------------


def bitcoin_tool(run: Run) -> Scenario:
    """A second stratum session (TLS port 14433) to a pool address on the mining feed."""
    w, tag = run.world, "scenario:bitcoin-tool"
    host, pool = w.hosts["miner"], w.ips["pool_nanopool"]
    cols = _long_sessions(
        run,
        pl.Series([run.start + 4000]),
        5,
        {"client_ip": host.ip, "client_port": 43_118, "server_ip": pool, "server_port": 14_433},
    )
    run.sessions(host, "client", protocol=6, action="ACCEPT", internet=True, tag=tag, **cols)
    return _scenario(
        tag, "CryptoCurrency:EC2/BitcoinTool.B", "vpc_flow", host, _flow_key(host, pool),
        f"{host.name} keeps a stratum session with {pool}:14433, a pool address on the mining feed",
    )  # fmt: skip


# --- helpdesk desktop -------------------------------------------------------------------------------


def phishing_domain_request(run: Run) -> Scenario:
    w, tag = run.world, "scenario:phishing-domain-request"
    host, name = w.hosts["helpdesk"], f"login.{PHISHING_DOMAIN}"
    _resolve(run, host, run.start + 2000 + pl.Series([0, 45, 300, 310]), name, w.ips["phish_answer"], tag)
    return _scenario(
        tag, "Trojan:EC2/PhishingDomainRequest!DNS", "dns", host,
        {"instance_id": str(host.instance_id), "domain": name},
        f"{host.name} follows a phishing link to {name} (Phishing feed)",
    )  # fmt: skip


def drive_by_source_traffic(run: Run) -> Scenario:
    w, tag = run.world, "scenario:drive-by-source-traffic"
    host, name = w.hosts["helpdesk"], f"cdn.{DRIVE_BY_DOMAIN}"
    _resolve(run, host, run.start + 5100 + pl.Series([0, 2, 61]), name, w.ips["phish_answer"], tag)
    return _scenario(
        tag, "Trojan:EC2/DriveBySourceTraffic!DNS", "dns", host,
        {"instance_id": str(host.instance_id), "domain": name},
        f"{host.name} loads a page that pulls from {name} (MalwareDistribution feed)",
    )  # fmt: skip


# --- Tor ------------------------------------------------------------------------------------------------


def tor_client(run: Run) -> Scenario:
    w, tag = run.world, "scenario:tor-client"
    host, guard = w.hosts["tor-client"], w.ips["tor_guard"]
    t0 = run.start + 1200
    # bootstrap: the consensus from an authority and two fallback directory mirrors
    dirs = [w.ips["tor_authority"], w.ips["tor_relay_40"], w.ips["tor_relay_41"]]
    start = t0 + pl.Series([0, 4, 9])
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(3),
        server_ip=dirs,
        server_port=[HTTPS, OR_PORT, HTTPS],
        protocol=6,
        start=start,
        end=start + 3,
        c_packets=run.vec.integers(10, 20, 3),
        c_bytes=run.vec.integers(1800, 3000, 3),
        c_flags=SYN_FIN,
        s_packets=run.vec.integers(60, 400, 3),
        s_bytes=run.vec.integers(80_000, 500_000, 3),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    # one circuit through the guard for an hour, uploading much more than it receives
    cols = _long_sessions(
        run,
        pl.Series([t0 + 15]),
        6,
        {"client_ip": host.ip, "client_port": 51_744, "server_ip": guard, "server_port": OR_PORT},
    )
    cols["c_bytes"] = cols["c_bytes"] * 20
    run.sessions(host, "client", protocol=6, action="ACCEPT", internet=True, tag=tag, **cols)
    return _scenario(
        tag, "UnauthorizedAccess:EC2/TorClient", "vpc_flow", host, _flow_key(host, guard),
        f"{host.name} bootstraps Tor from an authority and keeps an hour-long circuit through guard {guard}",
    )  # fmt: skip


def tor_relay(run: Run) -> Scenario:
    """Per hour: 12 relays connect to the ORPort, the relay connects to 4, 5 clients use it."""
    w, tag = run.world, "scenario:tor-relay"
    host = w.hosts["tor-relay"]
    relays = [w.ips[f"tor_relay_{i}"] for i in range(32)]
    hours = (run.start, run.start + 3600)
    # inbound: relays extending circuits through it (12 per hour), on the ORPort
    inbound = pl.Series([relays[i] for i in range(24)])
    starts = pl.concat([hour + arange(12) * 150 for hour in hours])
    cols = _long_sessions(
        run,
        starts,
        3,
        {
            "client_ip": inbound,
            "client_port": run.ephemeral(24),
            "server_ip": host.ip,
            "server_port": OR_PORT,
        },
    )
    run.sessions(host, "server", protocol=6, action="ACCEPT", internet=True, tag=tag, **cols)
    # outbound: circuits it extends to other relays (4 per hour), on their ORPorts
    outbound = pl.Series([relays[i] for i in range(24, 32)])
    starts = pl.concat([hour + 60 + arange(4) * 400 for hour in hours])
    cols = _long_sessions(
        run,
        starts,
        3,
        {
            "client_ip": host.ip,
            "client_port": run.ephemeral(8),
            "server_ip": outbound,
            "server_port": pl.Series([OR_PORT, HTTPS] * 4),
        },
    )
    run.sessions(host, "client", protocol=6, action="ACCEPT", internet=True, tag=tag, **cols)
    # Tor clients (on no list) using it as their guard
    clients = ip_strings(public_ips(run.vec, 10, list(w.ips.values())))
    starts = pl.concat([hour + 200 + arange(5) * 330 for hour in hours])
    cols = _long_sessions(
        run,
        starts,
        3,
        {
            "client_ip": clients,
            "client_port": run.ephemeral(10),
            "server_ip": host.ip,
            "server_port": OR_PORT,
        },
    )
    run.sessions(host, "server", protocol=6, action="ACCEPT", internet=True, tag=f"{tag}/clients", **cols)
    return _scenario(
        tag, "UnauthorizedAccess:EC2/TorRelay", "vpc_flow", host, _flow_key(host),
        f"{host.name} relays Tor: 24 relays connect to its ORPort {OR_PORT}, it connects to 8, clients use it",
    )  # fmt: skip


INTEL_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    c2_activity,
    c2_activity_dns,
    drop_point,
    drop_point_dns,
    dga_domain_request,
    blackhole_traffic_dns,
    blackhole_traffic,
    bitcoin_tool,
    phishing_domain_request,
    drive_by_source_traffic,
    tor_client,
    tor_relay,
)
