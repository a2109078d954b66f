"""Benign look-alikes of the DNS signature scenarios (``keibi.tester.scenarios_dns_signatures``).
They must raise nothing.

Names as long and random-looking as exfiltration's, at volume:

- ``mail-relay`` checks every inbound message: the sender's address on Spamhaus ZEN (reversed
  IP), the sender's e-mail address on Spamhaus's hashed list (base32 SHA-256 labels under
  ``dq.spamhaus.net``), the DKIM key (``<selector>._domainkey.<domain>``, Amazon SES's
  32-character selectors and an e-mail provider's per-tenant selectors), SPF and DMARC (TXT),
  and the message's link domains on URIBL;
- ``file-scan`` asks Sophos Live Protection and McAfee GTI for the reputation of each file it
  scans (file hashes as labels);
- application hosts download per-object names: Dropbox files, Google user content, Lambda
  function URLs, long S3 bucket names;
- a certificate manager on ``app-2`` polls ACME ``_acme-challenge`` TXT records for a SaaS
  platform's tenant host names;
- ``app-1``'s telemetry agent puts numeric session ids in its vendor's names (long labels,
  low entropy), and its video player resolves per-session edge names of one CDN, 40 an hour:
  fewer than ``dns_exfil_min_subdomains``;
- names that resolve to link-local service addresses: AWS's ``instance-data.ec2.internal``
  alias of the metadata service, private names for the VPC resolver, Time Sync and ECS task
  metadata addresses, the metadata address's PTR record, and ``nip.io`` names of private
  addresses in a CI test environment.
"""

from __future__ import annotations

import base64
import hashlib
import string
from collections.abc import Callable
from typing import Final

import polars as pl

from keibi.tester.dnslogs import answers_json
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.vec import arange, where
from keibi.tester.world import Host

_LOWER: Final = string.ascii_lowercase
_B32: Final = "abcdefghijklmnopqrstuvwxyz234567"
_DQS_KEY: Final = "zq3mbvyh2s6n4t7c5x8kpl9w1r"
VIDEO_CDN: Final = "vidstream-edge.net"
VIDEO_PER_HOUR: Final = 40
"""Per-session edge names an hour, fixed whatever the scale: below the exfiltration threshold."""


def _n(run: Run, base: float) -> int:
    return max(1, int(base * run.scale))


def _span(run: Run) -> tuple[int, int]:
    return run.start, run.end - run.start


_WORDS: Final = (
    "acme", "alpine", "anchor", "apex", "atlas", "beacon", "birch", "blue", "bright", "brook", "cedar",
    "central", "city", "clear", "coast", "copper", "crest", "delta", "direct", "eagle", "east", "echo",
    "field", "first", "forest", "global", "green", "harbor", "home", "horizon", "iron", "lake", "legal",
    "liberty", "local", "maple", "meadow", "metro", "north", "oak", "ocean", "office", "orchard", "park",
    "partners", "peak", "pine", "prime", "quality", "rapid", "river", "rock", "royal", "silver", "smart",
    "solutions", "south", "spring", "star", "stone", "summit", "supply", "travel", "union", "valley",
    "vista", "west", "wood", "works",
)  # fmt: skip
"""Words the look-alikes' sender and link domains are made of, as real organisations' are."""


def _word(run: Run, low: int, high: int) -> str:
    return "".join(run.rng.choices(_LOWER, k=run.rng.randrange(low, high)))


def _domain(run: Run, tlds: tuple[str, ...] = ("com", "net", "org", "io", "co.uk")) -> str:
    first, second = run.rng.sample(_WORDS, 2)
    return f"{first}{run.rng.choice(('', '-'))}{second}.{run.rng.choice(tlds)}"


def _token(run: Run, alphabet: str, k: int) -> str:
    return "".join(run.rng.choices(alphabet, k=k))


def _ask(
    run: Run,
    host: Host,
    times: pl.Series,
    names: pl.Series,
    qtype: str,
    rcode: str | pl.Series,
    answers: str | pl.Series,
    tag: str,
) -> None:
    """Record ``host``'s queries (``names`` without the trailing dot)."""
    n = times.len()
    run.queries(
        host,
        time=times,
        query_name=names + ".",
        query_type=qtype,
        rcode=rcode,
        answers=answers,
        srcport=run.ephemeral(n),
        tag=tag,
    )


def mail_relay_lookups(run: Run) -> Background:
    """Block-list, hashed block-list, DKIM, SPF, DMARC and URI-list lookups per inbound message."""
    tag, host = "background:mail-relay-lookups", run.world.hosts["mail-relay"]
    domains = sorted({_domain(run) for _ in range(500)})
    # DKIM selectors: the common fixed ones, or an SES-style 32-character token per domain
    fixed = ("google", "selector1", "s1", "k1", "default", "dkim")
    selectors = [_token(run, _B32, 32) if run.rng.random() < 0.3 else run.rng.choice(fixed) for _ in domains]
    senders = pl.DataFrame(
        {
            "domain": domains,
            "selector": selectors,
            "ip": [
                f"{run.rng.randrange(1, 224)}.{run.rng.randrange(256)}.{run.rng.randrange(256)}.{run.rng.randrange(1, 255)}"
                for _ in domains
            ],
        }
    )
    addresses = [f"{_word(run, 3, 9)}@{run.rng.choice(domains)}" for _ in range(_n(run, 2500))]
    hashed = [
        base64.b32encode(hashlib.sha256(a.encode()).digest()).decode().rstrip("=").lower() for a in addresses
    ]
    links = sorted(
        {
            f"{_domain(run, ('com',))[:-4]}{run.rng.choice(('', '-login', '-secure', '-account'))}.com"
            for _ in range(600)
        }
    )
    esp_tenants = [_token(run, _B32, 32) for _ in range(200)]

    n = _n(run, 9000)
    start, length = _span(run)
    t = run.times(n, start, length)
    who = senders.select(pl.all().gather(run.vec.integers(0, senders.height, n)))
    rev = who["ip"].str.split(".").list.reverse().list.join(".")
    listed = run.vec.random(n) < 0.15
    _ask(
        run,
        host,
        t,
        rev + ".zen.spamhaus.org",
        "A",
        where(listed, "NOERROR", "NXDOMAIN"),
        where(listed, answers_json(["127.0.0.4"], "A"), "[]"),
        tag,
    )
    hbl = run.vec.choice(hashed, n) + f"._email.{_DQS_KEY}.hbl.dq.spamhaus.net"
    _ask(run, host, t + 1, hbl, "A", "NXDOMAIN", "[]", tag)
    dkim = answers_json(['"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQ"'], "TXT")
    _ask(run, host, t + 1, who["selector"] + "._domainkey." + who["domain"], "TXT", "NOERROR", dkim, tag)
    spf = answers_json(['"v=spf1 include:amazonses.com include:_spf.google.com ~all"'], "TXT")
    _ask(run, host, t + 1, who["domain"], "TXT", "NOERROR", spf, tag)
    dmarc = answers_json(['"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.org"'], "TXT")
    _ask(run, host, t + 2, "_dmarc." + who["domain"], "TXT", "NOERROR", dmarc, tag)
    _ask(run, host, t + 2, run.vec.choice(links, n) + ".multi.uribl.com", "A", "NXDOMAIN", "[]", tag)
    # an e-mail provider signing with a selector per tenant under its own domain
    m = _n(run, 2000)
    tenant = run.vec.choice(esp_tenants, m) + "._domainkey.esp-mailer.net"
    _ask(run, host, run.times(m, start, length), tenant, "TXT", "NOERROR", dkim, tag)
    return Background(
        "mail-relay-lookups",
        "dns",
        "Lookups by the mail relay: ZEN, hashed DQS, DKIM (SES and per-tenant selectors), "
        "SPF, DMARC and URIBL",
    )


def antivirus_reputation(run: Run) -> Background:
    """Sophos and McAfee reputation lookups of scanned files' hashes."""
    tag, host = "background:antivirus-reputation", run.world.hosts["file-scan"]
    files = [f"{run.rng.getrandbits(160):040x}" for _ in range(_n(run, 2500))]
    sophos = [f"{h[:24]}.{h[24:]}.s.3.sophosxl.net" for h in files]
    mcafee = [f"0.0.0.0.1.0.0.4e13.0{_token(run, _B32, 32)}.avqs.mcafee.com" for _ in files]
    n = _n(run, 8000)
    start, length = _span(run)
    t = run.times(n, start, length)
    pick = run.vec.integers(0, len(files), n)
    _ask(run, host, t, pl.Series(sophos).gather(pick), "A", "NOERROR", answers_json(["127.0.0.1"], "A"), tag)
    _ask(run, host, t + 1, pl.Series(mcafee).gather(pick), "A", "NXDOMAIN", "[]", tag)
    return Background("antivirus-reputation", "dns", "Sophos and McAfee GTI file-hash lookups by file-scan")


def cloud_content(run: Run) -> Background:
    """Per-object host names of file-sharing, user-content and serverless endpoints."""
    tag, w = "background:cloud-content", run.world
    hosts = [w.hosts[name] for name in ("app-1", "app-2", "ci-runner", "backup")]
    pools = {
        "dropbox": [
            f"uc{run.rng.getrandbits(120):030x}.dl.dropboxusercontent.com" for _ in range(_n(run, 800))
        ],
        "google": [
            f"{run.rng.randrange(10**11, 10**12)}-{_token(run, _B32, 32)}.apps.googleusercontent.com"
            for _ in range(60)
        ],
        "lambda": [f"{_token(run, _B32, 32)}.lambda-url.us-east-1.on.aws" for _ in range(80)],
        "s3": [
            f"tenant-{run.rng.getrandbits(48):012x}-uploads.s3.us-east-1.amazonaws.com" for _ in range(150)
        ],
    }
    start, length = _span(run)
    for i, (kind, names) in enumerate(pools.items()):
        n = _n(run, 2000)
        host = hosts[i]
        answer = answers_json([f"{52 + i}.{i + 10}.{i}.{i + 1}"], "A")
        _ask(
            run,
            host,
            run.times(n, start, length),
            run.vec.choice(names, n),
            "A",
            "NOERROR",
            answer,
            f"{tag}/{kind}",
        )
    return Background("cloud-content", "dns", "Dropbox, Google user content, Lambda URL and S3 bucket names")


def acme_and_telemetry(run: Run) -> Background:
    """ACME challenges for many tenants, numeric telemetry ids, and per-session CDN names."""
    tag, w = "background:acme-and-telemetry", run.world
    start, length = _span(run)
    tenants = [f"store-{run.rng.getrandbits(48):012x}" for _ in range(_n(run, 150))]
    n = len(tenants) * 3  # cert-manager's self-check polls each challenge a few times
    names = pl.Series(tenants).gather(arange(n) // 3)
    token = answers_json(['"' + _token(run, _B32, 43) + '"'], "TXT")
    _ask(
        run,
        w.hosts["app-2"],
        run.times(n, start, length),
        "_acme-challenge." + names + ".tenants.saas-platform.com",
        "TXT",
        "NOERROR",
        token,
        tag,
    )
    m = _n(run, 360)
    ids = run.vec.integers(10**17, 10**18, m).cast(pl.String) + run.vec.integers(10**5, 10**6, m).cast(
        pl.String
    )
    session = run.vec.integers(10**11, 10**12, m).cast(pl.String)
    beacon = ids + "." + session + ".t.stats-vendor.io"
    _ask(
        run,
        w.hosts["app-1"],
        run.times(m, start, length),
        beacon,
        "A",
        "NOERROR",
        answers_json(["198.51.100.7"], "A"),
        f"{tag}/telemetry",
    )
    # the video player: VIDEO_PER_HOUR distinct edge names in every clock hour
    first = start - start % 3600
    for hour in range(first, run.end, 3600):
        lo, hi = max(hour, start), min(hour + 3600, run.end)
        if hi <= lo:
            continue
        k = VIDEO_PER_HOUR
        edges = pl.Series([f"e-{_token(run, _B32, 26)}.edge.{VIDEO_CDN}" for _ in range(k)])
        _ask(
            run,
            w.hosts["app-1"],
            run.times(k, lo, hi - lo),
            edges,
            "A",
            "NOERROR",
            answers_json(["151.101.2.10"], "A"),
            f"{tag}/video",
        )
    return Background(
        "acme-and-telemetry",
        "dns",
        "ACME challenge polls, numeric telemetry ids and per-session video CDN names "
        f"({VIDEO_PER_HOUR} an hour)",
    )


def link_local_names(run: Run) -> Background:
    """Names whose answers are link-local service addresses, or private ones via nip.io."""
    tag, w = "background:link-local-names", run.world
    rows = [
        ("instance-data.ec2.internal", "A", answers_json(["169.254.169.254"], "A")),
        ("resolver.infra.internal", "A", answers_json(["169.254.169.253"], "A")),
        ("timesync.infra.internal", "A", answers_json(["169.254.169.123"], "A")),
        ("timesync.infra.internal", "AAAA", answers_json(["fd00:ec2::123"], "AAAA")),
        ("task-metadata.infra.internal", "A", answers_json(["169.254.170.2"], "A")),
        ("254.169.254.169.in-addr.arpa", "PTR", answers_json(["instance-data.ec2.internal."], "PTR")),
        ("10-0-2-90.nip.io", "A", answers_json(["10.0.2.90"], "A")),
        ("app-2.10.0.2.91.nip.io", "A", answers_json(["10.0.2.91"], "A")),
    ]
    pool = pl.DataFrame(rows, schema=["name", "qtype", "answers"], orient="row")
    hosts = [w.hosts[name] for name in ("ci-runner", "monitor", "app-1", "backup")]
    start, length = _span(run)
    for host in hosts:
        n = _n(run, 150)
        chosen = pool.select(pl.all().gather(run.vec.integers(0, pool.height, n)))
        for qtype in ("A", "AAAA", "PTR"):
            part = chosen.filter(pl.col("qtype") == qtype)
            if part.height:
                _ask(
                    run,
                    host,
                    run.times(part.height, start, length),
                    part["name"],
                    qtype,
                    "NOERROR",
                    part["answers"],
                    tag,
                )
    return Background(
        "link-local-names",
        "dns",
        "Lookups answered with link-local service addresses (instance-data alias, VPC resolver, "
        "Time Sync, ECS task metadata, PTR) or private addresses via nip.io",
    )


DNS_SIGNATURE_BACKGROUND: Final[tuple[Callable[[Run], Background], ...]] = (
    mail_relay_lookups,
    antivirus_reputation,
    cloud_content,
    acme_and_telemetry,
    link_local_names,
)
