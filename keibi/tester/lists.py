"""The threat and trusted lists and the feeds the scenarios rely on, in GuardDuty's TXT format.

TXT lists hold one IP, CIDR or domain per line; lines starting with ``#`` are comments.
The user's threat list gives the ``*.Custom`` types; the feeds (``keibi scan --feed
CATEGORY=PATH``) give ``*/TorIPCaller`` (category ``Tor``) and ``*/MaliciousIPCaller``
(``Malicious``). One address is on the trusted list, the threat list and the malicious feed,
and does generate traffic and API calls: it must raise nothing, because a trusted list wins
over threat lists in GuardDuty.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from keibi.tester.world import FEED_DECOYS, World

THREAT_DOMAIN: Final = "secure-update-cdn.net"
"""Listed domain; the ``phished`` instance resolves a subdomain of it."""
NEAR_MISS_DOMAIN: Final = "notsecure-update-cdn.net"
"""Resolved in the background: it ends with the listed name but is not a subdomain of it."""
UNUSED_DOMAIN: Final = "invoice-portal-login.com"

THREAT_LIST: Final = Path("lists/threat.txt")
TRUSTED_LIST: Final = Path("lists/trusted.txt")
TOR_FEED: Final = Path("lists/tor-exits.txt")
MALICIOUS_FEED: Final = Path("lists/malicious-ips.txt")


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


def tor_lines(world: World) -> list[str]:
    ips = world.ips
    exits = sorted([ips["tor_iam"], ips["tor_s3"], *(ips[f"tor_exit_{i}"] for i in range(FEED_DECOYS))])
    return ["# Tor exit addresses (one per line), as published by the Tor Project's exit list", *exits]


def malicious_lines(world: World) -> list[str]:
    ips = world.ips
    listed = [ips["malicious_iam"], ips["malicious_s3"], *(ips[f"malicious_{i}"] for i in range(FEED_DECOYS))]
    return [
        "# known-malicious addresses: scanners, credential stuffers, malware hosts",
        *sorted(listed),
        "# the external auditor again: trusted, so never a finding",
        ips["trusted_threat"],
    ]


def write_lists(outdir: Path, world: World) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Write the lists; return the threat list, the trusted list and the (category, path) feeds."""
    for rel, lines in (
        (THREAT_LIST, threat_lines(world)),
        (TRUSTED_LIST, trusted_lines(world)),
        (TOR_FEED, tor_lines(world)),
        (MALICIOUS_FEED, malicious_lines(world)),
    ):
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    feeds = (("Tor", TOR_FEED.as_posix()), ("Malicious", MALICIOUS_FEED.as_posix()))
    return THREAT_LIST.as_posix(), TRUSTED_LIST.as_posix(), feeds
