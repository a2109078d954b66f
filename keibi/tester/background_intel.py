"""Benign look-alikes of the threat-intel scenarios (``keibi.tester.scenarios_intel``). They must
raise nothing.

Feed-listed hosts in the logs without the instance being their client: Tor users browse a web
server from exit nodes; relay operators' own addresses visit another (more relays connecting
in per hour than the relay threshold, but the server never connects to Tor); the monitoring
host's NTP server also runs a Tor relay (UDP, not Tor); the C2 server and the drop point
probe the web servers (inbound; rejected but for 443). And names that end like listed
domains without being their subdomains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import polars as pl

from keibi.tester.dnslogs import answers_json
from keibi.tester.flowlogs import SYN, SYN_FIN, SYNACK_FIN
from keibi.tester.lists import C2_DOMAIN, DROP_DOMAIN
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.vec import arange
from keibi.tester.world import TOR_WEB_EXITS

RELAY_VISITORS: Final = range(48, 60)
"""``tor_relay_<i>`` whose operators browse web-4 (none of them is a scenario's peer)."""
NTP_RELAY: Final = "tor_relay_47"


def _browse(run: Run, web: str, clients: list[str], per_client: int, span: tuple[int, int], tag: str) -> None:
    host = run.world.hosts[web]
    n = len(clients) * per_client
    start = run.times(n, *span)
    c_packets = run.vec.integers(8, 30, n)
    run.sessions(
        host,
        "server",
        client_ip=pl.Series(clients).gather(arange(n) % len(clients)),
        client_port=run.ephemeral(n),
        server_ip=host.ip,
        server_port=443,
        protocol=6,
        start=start,
        end=start + run.vec.integers(1, 20, n),
        c_packets=c_packets,
        c_bytes=c_packets * 120,
        c_flags=SYN_FIN,
        s_packets=c_packets * 3,
        s_bytes=c_packets * 3 * 1100,
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )


def intel_near_misses(run: Run) -> Background:
    w, tag = run.world, "background:intel-near-misses"
    exits = [w.ips[f"tor_web_exit_{i}"] for i in range(TOR_WEB_EXITS)]
    visits = max(2, round(12 * run.scale))  # per address; the addresses stay (thresholds count them)
    _browse(run, "web-3", exits, visits, (run.start, 7200), f"{tag}/tor-users")
    visitors = [w.ips[f"tor_relay_{i}"] for i in RELAY_VISITORS]
    _browse(run, "web-4", visitors, visits, (run.start + 600, 2400), f"{tag}/relay-operators")
    # NTP with a pool server that also runs a Tor relay
    monitor = w.hosts["monitor"]
    start = arange(run.start + 90, run.end, 1024)
    run.sessions(
        monitor,
        "client",
        client_ip=monitor.ip,
        client_port=123,
        server_ip=w.ips[NTP_RELAY],
        server_port=123,
        protocol=17,
        start=start,
        end=start,
        c_packets=1,
        c_bytes=76,
        c_flags=0,
        s_packets=1,
        s_bytes=76,
        s_flags=0,
        action="ACCEPT",
        internet=True,
        tag=f"{tag}/ntp-relay",
    )
    # the C2 server and the drop point scan the web servers: rejected, except HTTPS
    for i, (remote, port, action) in enumerate(
        (
            (w.ips["c2_server"], 443, "ACCEPT"),
            (w.ips["c2_server"], 22, "REJECT"),
            (w.ips["drop_point"], 3389, "REJECT"),
            (w.ips["sinkhole"], 443, "ACCEPT"),
        )
    ):
        host = w.hosts[("web-1", "web-2")[i % 2]]
        t = run.start + 1000 + 1300 * i
        accepted = action == "ACCEPT"
        run.sessions(
            host,
            "server",
            client_ip=remote,
            client_port=run.rng.randrange(32768, 61000),
            server_ip=host.ip,
            server_port=port,
            protocol=6,
            start=t,
            end=t + 1,
            c_packets=4 if accepted else 1,
            c_bytes=420 if accepted else 44,
            c_flags=SYN_FIN if accepted else SYN,
            s_packets=4 if accepted else 0,
            s_bytes=1800 if accepted else 0,
            s_flags=SYNACK_FIN if accepted else 0,
            action=action,
            internet=True,
            tag=f"{tag}/listed-hosts-connect-in",
        )
    # names that end like listed domains but are not their subdomains
    app = w.hosts["app-2"]
    names = [f"not{C2_DOMAIN}.", f"{DROP_DOMAIN}.example.net."]
    run.queries(
        app,
        time=run.start + 3000 + arange(len(names)) * 400,
        query_name=names,
        query_type="A",
        rcode="NOERROR",
        answers=answers_json(["93.184.215.14"], "A"),
        srcport=run.ephemeral(len(names)),
        tag=f"{tag}/lookalike-domains",
    )
    return Background(
        "intel-near-misses",
        "vpc_flow+dns",
        f"{TOR_WEB_EXITS} Tor exits browse web-3; {len(visitors)} Tor relays' operators browse web-4 "
        "within 40 minutes; NTP with a server that is also a relay; the C2 server, drop point and "
        "sinkhole connect in to web-1/web-2; look-alike names of listed domains",
    )


INTEL_BACKGROUND: Final[tuple[Callable[[Run], Background], ...]] = (intel_near_misses,)
