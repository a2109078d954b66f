"""RDP and WinRM brute force, both ways: password guessing against the exposed Windows server
``win-1`` from the internet (``TARGET``, Low), and compromised instances guessing passwords of
outside hosts (``ACTOR``, High).

Each guess is one TCP connection from a new client port, as hydra, crowbar and the WinRM
sprayers make them: a dozen packets each way for RDP's negotiation and NLA, a few for an NTLM
round trip on WinRM. The SSH pair lives in ``keibi.tester.scenarios``; the benign look-alikes
(admins on RDP, Ansible and an MSP on WinRM, scanners refused at 3389) in
``keibi.tester.background_bruteforce_dos``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from keibi.tester.flowlogs import SYN_FIN, SYNACK_FIN
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.vec import arange
from keibi.tester.world import Host

RDP: Final = 3389
WINRM_HTTP: Final = 5985
WINRM_HTTPS: Final = 5986

# (client packets, client bytes, server packets, server bytes) ranges of one failed login
_RDP_LOGIN: Final = ((11, 19), (2300, 3900), (9, 15), (3800, 5200))
_WINRM_LOGIN: Final = ((6, 10), (1500, 2600), (5, 9), (1100, 1900))


def _guesses(
    run: Run, n: int, t0: int, length: int, port: int, login: tuple[tuple[int, int], ...]
) -> dict[str, Any]:
    """``n`` failed logins on ``port`` in ``[t0, t0 + length)``, each from its own client port."""
    (cp, cb, sp, sb) = login
    start = run.times(n, t0, length)
    return {
        "client_port": run.vec.sample(arange(49152, 65535), n),
        "server_port": port,
        "protocol": 6,
        "start": start,
        "end": start + run.vec.integers(1, 4, n),
        "c_packets": run.vec.integers(*cp, n),
        "c_bytes": run.vec.integers(*cb, n),
        "c_flags": SYN_FIN,
        "s_packets": run.vec.integers(*sp, n),
        "s_bytes": run.vec.integers(*sb, n),
        "s_flags": SYNACK_FIN,
        "action": "ACCEPT",
        "internet": True,
    }


def _scenario(name: str, finding: str, host: Host, remote: str, direction: str, what: str) -> Scenario:
    key = {
        "instance_id": str(host.instance_id),
        "interface_id": host.eni,
        "remote_ip": remote,
        "direction": direction,
    }
    return Scenario(name, finding, "vpc_flow", "Instance", str(host.instance_id), key, what)


def rdp_brute_force_target(run: Run) -> Scenario:
    w, tag = run.world, "scenario:rdp-brute-force-target"
    host, attacker = w.hosts["win-1"], w.ips["rdp_attacker"]
    cols = _guesses(run, 150, run.start + 3000, 420, RDP, _RDP_LOGIN)
    run.sessions(host, "server", client_ip=attacker, server_ip=host.ip, tag=tag, **cols)
    return _scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:EC2/RDPBruteForce",
        host,
        attacker,
        "INBOUND",
        f"{attacker} tries 150 RDP logins on {host.name} in seven minutes",
    )


def rdp_brute_force_actor(run: Run) -> Scenario:
    w, tag = run.world, "scenario:rdp-brute-force-actor"
    host, victim = w.hosts["rdp-actor"], w.ips["rdp_victim"]
    cols = _guesses(run, 140, run.start + 5400, 300, RDP, _RDP_LOGIN)
    cols["client_port"] = run.vec.sample(arange(32768, 61000), 140)
    run.sessions(host, "client", client_ip=host.ip, server_ip=victim, tag=tag, **cols)
    return _scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:EC2/RDPBruteForce",
        host,
        victim,
        "OUTBOUND",
        f"{host.name} tries 140 RDP logins on outside host {victim} in five minutes",
    )


def winrm_brute_force_target(run: Run) -> Scenario:
    w, tag = run.world, "scenario:winrm-brute-force-target"
    host, attacker = w.hosts["win-1"], w.ips["winrm_attacker"]
    cols = _guesses(run, 160, run.start + 1200, 480, WINRM_HTTPS, _WINRM_LOGIN)
    run.sessions(host, "server", client_ip=attacker, server_ip=host.ip, tag=tag, **cols)
    return _scenario(
        tag.removeprefix("scenario:"),
        "Impact:EC2/WinRMBruteForce",
        host,
        attacker,
        "INBOUND",
        f"{attacker} sprays 160 passwords at WinRM over HTTPS (5986) on {host.name} in eight minutes",
    )


def winrm_brute_force_actor(run: Run) -> Scenario:
    w, tag = run.world, "scenario:winrm-brute-force-actor"
    host, victim = w.hosts["winrm-actor"], w.ips["winrm_victim"]
    cols = _guesses(run, 130, run.start + 6000, 360, WINRM_HTTP, _WINRM_LOGIN)
    cols["client_port"] = run.vec.sample(arange(32768, 61000), 130)
    run.sessions(host, "client", client_ip=host.ip, server_ip=victim, tag=tag, **cols)
    return _scenario(
        tag.removeprefix("scenario:"),
        "Impact:EC2/WinRMBruteForce",
        host,
        victim,
        "OUTBOUND",
        f"{host.name} sprays 130 passwords at WinRM (5985) on outside host {victim} in six minutes",
    )


BRUTE_FORCE_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    rdp_brute_force_target,
    rdp_brute_force_actor,
    winrm_brute_force_target,
    winrm_brute_force_actor,
)
