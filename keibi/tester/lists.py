"""The threat and trusted lists the scenarios rely on, in GuardDuty's TXT format.

TXT lists hold one IP, CIDR or domain per line; lines starting with ``#`` are comments.
One address is on both lists and does generate traffic: it must raise nothing, because a
trusted list wins over a threat list in GuardDuty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from keibi.tester.world import World

THREAT_DOMAIN: Final = "secure-update-cdn.net"
"""Listed domain; the ``phished`` instance resolves a subdomain of it."""
NEAR_MISS_DOMAIN: Final = "notsecure-update-cdn.net"
"""Resolved in the background: it ends with the listed name but is not a subdomain of it."""
UNUSED_DOMAIN: Final = "invoice-portal-login.com"

THREAT_LIST: Final = Path("lists/threat.txt")
TRUSTED_LIST: Final = Path("lists/trusted.txt")


def threat_lines(world: World) -> list[str]:
    ips = world.ips
    return [
        "# keibi tester threat list (GuardDuty TXT: one IP, CIDR or domain per line)",
        "# source: incident IR-2026-311, shared by the SOC",
        ips["threat_iam"],
        ips["trusted_threat"],
        "",
        "# bulletproof hosting block seen beaconing",
        ips["threat_cidr"],
        "# phishing and malware delivery domains (subdomains match)",
        THREAT_DOMAIN,
        UNUSED_DOMAIN,
    ]


def trusted_lines(world: World) -> list[str]:
    ips = world.ips
    return [
        "# keibi tester trusted list: our offices and the external auditor",
        f"{ips['office'].rsplit('.', 1)[0]}.0/24",
        "# external auditor: also on the SOC's threat list by mistake; trusted wins",
        ips["trusted_threat"],
    ]


def write_lists(outdir: Path, world: World) -> tuple[str, str]:
    for rel, lines in ((THREAT_LIST, threat_lines(world)), (TRUSTED_LIST, trusted_lines(world))):
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    return THREAT_LIST.as_posix(), TRUSTED_LIST.as_posix()
