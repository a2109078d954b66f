"""The threat and trusted lists and the feeds the scenarios rely on, in GuardDuty's TXT format.

TXT lists hold one IP, CIDR or domain per line; lines starting with ``#`` are comments.
The user's threat list gives the ``*.Custom`` types; the feeds (``keibi scan --feed
CATEGORY=PATH``) give ``*/TorIPCaller`` (category ``Tor``) and ``*/MaliciousIPCaller``
(``Malicious``). One address is on the trusted list, the threat list and the malicious feed,
and does generate traffic and API calls: it must raise nothing, because a trusted list wins
over threat lists in GuardDuty.

The threat-intel scenarios (``keibi.tester.scenarios_intel``) add a feed per category they
need: ``TorRelay`` (every Tor node, exits included, as the public full lists have them),
``CommandAndControl``, ``DropPoint``, ``Blackhole``, ``CryptoCurrency`` (pool addresses; the
pool domains are keibi's shipped list), ``Phishing``, ``MalwareDistribution`` and ``DGA``. Each
holds addresses or domains the logs never show besides the scenarios' own.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Final

from keibi.tester.world import FEED_DECOYS, TOR_RELAYS, TOR_WEB_EXITS, World

THREAT_DOMAIN: Final = "secure-update-cdn.net"
"""Listed domain; the ``phished`` instance resolves a subdomain of it."""
NEAR_MISS_DOMAIN: Final = "notsecure-update-cdn.net"
"""Resolved in the background: it ends with the listed name but is not a subdomain of it."""
UNUSED_DOMAIN: Final = "invoice-portal-login.com"

THREAT_LIST: Final = Path("lists/threat.txt")
TRUSTED_LIST: Final = Path("lists/trusted.txt")
TOR_FEED: Final = Path("lists/tor-exits.txt")
MALICIOUS_FEED: Final = Path("lists/malicious-ips.txt")

C2_DOMAIN: Final = "api-metrics-sync.com"
"""Command-and-control domain on the C2 feed; the ``c2-implant`` resolves a subdomain of it."""
DROP_DOMAIN: Final = "paste-vault-store.com"
"""Drop point for stolen credentials on the DropPoint feed."""
SINKHOLED_DOMAIN: Final = "kqwhzrtvbnxe.biz"
"""A bot's old hard-coded C2 domain, now pointing at a sinkhole; on the Blackhole feed."""
PHISHING_DOMAIN: Final = "account-verify-portal.com"
DRIVE_BY_DOMAIN: Final = "free-codec-pack.net"
DGA_NAMES: Final = 240
"""Names a day of the bot's DGA yields; the DGA feed lists them all, the bot tries most."""
INTEL_FEEDS: Final[tuple[tuple[str, Path], ...]] = (
    ("TorRelay", Path("lists/tor-relays.txt")),
    ("CommandAndControl", Path("lists/c2.txt")),
    ("DropPoint", Path("lists/drop-points.txt")),
    ("Blackhole", Path("lists/sinkholes.txt")),
    ("CryptoCurrency", Path("lists/mining-pool-ips.txt")),
    ("Phishing", Path("lists/phishing.txt")),
    ("MalwareDistribution", Path("lists/malware-hosts.txt")),
    ("DGA", Path("lists/dga.txt")),
)


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
    exits = sorted(
        [
            ips["tor_iam"],
            ips["tor_s3"],
            *(ips[f"tor_exit_{i}"] for i in range(FEED_DECOYS)),
            *(ips[f"tor_web_exit_{i}"] for i in range(TOR_WEB_EXITS)),
        ]
    )
    return ["# Tor exit addresses (one per line), as published by the Tor Project's exit list", *exits]


def malicious_lines(world: World) -> list[str]:
    ips = world.ips
    listed = [
        ips["malicious_iam"],
        ips["malicious_s3"],
        ips["known_scanner"],
        *(ips[f"malicious_{i}"] for i in range(FEED_DECOYS)),
    ]
    return [
        "# known-malicious addresses: scanners, credential stuffers, malware hosts",
        *sorted(listed),
        "# the external auditor again: trusted, so never a finding",
        ips["trusted_threat"],
    ]


_DGA_WORDS: Final = (
    "able", "above", "across", "after", "again", "against", "almost", "along", "always", "among",
    "animal", "answer", "around", "before", "began", "behind", "believe", "better", "between",
    "bright", "brought", "build", "built", "carry", "center", "certain", "change", "children",
    "circle", "close", "country", "course", "cover", "cross", "during", "early", "earth",
    "enough", "even", "every", "family", "father", "field", "figure", "follow", "force",
    "friend", "front", "garden", "ground", "group", "happen", "heard", "horse", "island",
    "kitchen", "known", "large", "later", "learn", "letter", "light", "listen", "little",
    "mother", "mountain", "music", "notice", "number", "often", "order", "paper", "people",
    "picture", "place", "plant", "power", "question", "quick", "river", "second", "several",
    "should", "shoulder", "simple", "stand", "story", "strong", "summer", "table", "thought",
    "thrown", "together", "toward", "travel", "under", "until", "voice", "water", "weather",
    "window", "winter", "without", "wonder", "world", "young",
)  # fmt: skip


def dga_domains(world: World) -> list[str]:
    """One day of the ``dga-bot``'s generated names, as a researcher's DGA feed publishes them.

    The bot's algorithm glues two dictionary words under ``.net`` (Suppobox-style): names a
    character-level classifier cannot tell from real ones, so only a list of the day's names
    catches them (``DGADomainRequest.C!DNS``, not ``.B``). Drawn from their own seed (the
    account), so the feed and the bot's queries agree whatever else the run draws.
    """
    rng = random.Random(f"dga|{world.account_id}")
    names = (f"{rng.choice(_DGA_WORDS)}{rng.choice(_DGA_WORDS)}.net" for _ in range(2 * DGA_NAMES))
    return list(dict.fromkeys(names))[:DGA_NAMES]


def _decoys(world: World, feed: str) -> list[str]:
    return [world.ips[f"{feed}_decoy_{i}"] for i in range(FEED_DECOYS)]


def intel_lines(world: World) -> dict[str, list[str]]:
    """Category → lines of each feed in :data:`INTEL_FEEDS`."""
    ips = world.ips
    exits = [ips["tor_iam"], ips["tor_s3"], *(ips[f"tor_exit_{i}"] for i in range(FEED_DECOYS))]
    exits += [ips[f"tor_web_exit_{i}"] for i in range(TOR_WEB_EXITS)]
    relays = [ips["tor_guard"], ips["tor_authority"], *(ips[f"tor_relay_{i}"] for i in range(TOR_RELAYS))]
    return {
        "TorRelay": [
            "# every Tor node in the consensus (guards, middles, authorities and exits)",
            *sorted(relays + exits),
        ],
        "CommandAndControl": [
            "# botnet command-and-control servers (addresses and domains)",
            *sorted([ips["c2_server"], *_decoys(world, "c2")]),
            C2_DOMAIN,
            "update-relay-node.net",
            "static-telemetry-cdn.org",
        ],
        "DropPoint": [
            "# servers collecting credentials stolen by infostealers",
            *sorted([ips["drop_point"], *_decoys(world, "drop")]),
            DROP_DOMAIN,
            "log-collector-api.net",
        ],
        "Blackhole": [
            "# sinkholes and the seized domains pointed at them",
            *sorted([ips["sinkhole"], *_decoys(world, "sinkhole")]),
            SINKHOLED_DOMAIN,
            "vbnmqwpoiuzx.info",
        ],
        "CryptoCurrency": [
            "# stratum endpoints of mining pools",
            *sorted([ips["pool_nanopool"], *_decoys(world, "mining")]),
        ],
        "Phishing": [
            "# phishing sites",
            PHISHING_DOMAIN,
            "secure-login-review.net",
            "mailbox-quota-alert.com",
        ],
        "MalwareDistribution": [
            "# drive-by download and malware hosts",
            DRIVE_BY_DOMAIN,
            "flash-update-now.org",
        ],
        "DGA": ["# today's names of a tracked DGA family", *dga_domains(world)],
    }


def write_lists(outdir: Path, world: World) -> tuple[str, str, tuple[tuple[str, str], ...]]:
    """Write the lists; return the threat list, the trusted list and the (category, path) feeds."""
    intel = intel_lines(world)
    for rel, lines in (
        (THREAT_LIST, threat_lines(world)),
        (TRUSTED_LIST, trusted_lines(world)),
        (TOR_FEED, tor_lines(world)),
        (MALICIOUS_FEED, malicious_lines(world)),
        *((path, intel[category]) for category, path in INTEL_FEEDS),
    ):
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(lines) + "\n")
    feeds = (
        ("Tor", TOR_FEED.as_posix()),
        ("Malicious", MALICIOUS_FEED.as_posix()),
        *((category, path.as_posix()) for category, path in INTEL_FEEDS),
    )
    return THREAT_LIST.as_posix(), TRUSTED_LIST.as_posix(), feeds
