"""DGA and domain-reputation scenarios: what only a model of the name itself can tell.

- ``dga-domain-request-b``: ``qbot-victim`` runs a Qakbot-style bot (a family the DGA model
  never saw in training, ``keibi.detect.dns._dga_families.HELD_OUT``) whose C2 is gone: it
  walks through 150 of the day's generated names in twenty-five minutes, every one NXDOMAIN,
  and tries again an hour later.
- ``abused-domain-request``: ``dev-tunnel`` keeps a reverse shell to its operator's box on a
  dynamic-DNS host name with a random label, resolved every five minutes.
- ``bitcoin-domain-request``: ``miner-2`` mines through a pool proxy on a cheap TLD that no
  feed lists (the shipped mining-pool feed does not know it), resolved every few minutes.
- ``malicious-domain-request``: ``legacy-blog``, a compromised WordPress host, hosts a
  phishing kit whose mailer checks in with its panel on a free-TLD look-alike of PayPal.
- ``suspicious-domain-request``: ``render-worker``, a headless-browser job that renders
  user-submitted links, opens an Office 365 look-alike on an abused TLD.

See ``keibi.tester.scenarios`` for how scenarios are recorded and registered;
``keibi.tester.background_dns_names`` holds their benign look-alikes at scale.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final

from keibi.detect.dns._dga_families import generate
from keibi.tester.dnslogs import answers_json
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.vec import arange
from keibi.tester.world import Host

DGA_FAMILY: Final = "qakbot"
DGA_TRIES: Final = 150
TUNNEL_HOST: Final = "k2j9xq7zt4pw.duckdns.org"
POOL_PROXY: Final = "xmr.hashvault-proxy.top"
PHISHING_PANEL: Final = "paypal-secure-login-verify-account.tk"
LOOKALIKE: Final = "office365-login-update.click"


def _scenario(tag: str, finding: str, host: Host, domain: str, what: str) -> Scenario:
    return Scenario(
        tag.removeprefix("scenario:"),
        finding,
        "dns",
        "Instance",
        str(host.instance_id),
        {"instance_id": str(host.instance_id), "domain": domain},
        what,
    )


def _answer(run: Run) -> str:
    return answers_json(
        [
            f"{run.rng.choice((45, 91, 185, 193))}.{run.rng.randrange(256)}.{run.rng.randrange(256)}.{run.rng.randrange(1, 255)}"
        ],
        "A",
    )


def dga_domain_request_b(run: Run) -> Scenario:
    w, tag = run.world, "scenario:dga-domain-request-b"
    host = w.hosts["qbot-victim"]
    day = datetime.fromtimestamp(run.start, UTC).date()
    names = generate(DGA_FAMILY, DGA_TRIES, seed=run.rng.randrange(1 << 16), start=day)
    n = len(names)
    first = run.start + 1500 + arange(n) * 10 + run.vec.integers(0, 6, n)  # 25 minutes
    again = run.start + 5100 + arange(n) * 10 + run.vec.integers(0, 6, n)  # the hourly retry
    for times in (first, again):
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
        tag,
        "Trojan:EC2/DGADomainRequest.B",
        host,
        names[-1],
        f"{host.name} tries {n} names of a {DGA_FAMILY}-style DGA in 25 minutes, all NXDOMAIN, and again an hour later",
    )


def _beacon(run: Run, host: Host, name: str, tag: str, t0: int, every: int, n: int) -> None:
    answer = _answer(run)
    run.queries(
        host,
        time=t0 + arange(n) * every + run.vec.integers(0, 20, n),
        query_name=f"{name}.",
        query_type="A",
        rcode="NOERROR",
        answers=answer,
        srcport=run.ephemeral(n),
        tag=tag,
    )


def abused_domain_request(run: Run) -> Scenario:
    w, tag = run.world, "scenario:abused-domain-request"
    host = w.hosts["dev-tunnel"]
    _beacon(run, host, TUNNEL_HOST, tag, run.start + 600, 300, 24)
    return _scenario(
        tag,
        "Impact:EC2/AbusedDomainRequest.Reputation",
        host,
        TUNNEL_HOST,
        f"{host.name} resolves the dynamic-DNS host {TUNNEL_HOST} every five minutes (reverse shell)",
    )


def bitcoin_domain_request(run: Run) -> Scenario:
    w, tag = run.world, "scenario:bitcoin-domain-request"
    host = w.hosts["miner-2"]
    _beacon(run, host, POOL_PROXY, tag, run.start + 1200, 240, 24)
    return _scenario(
        tag,
        "Impact:EC2/BitcoinDomainRequest.Reputation",
        host,
        POOL_PROXY,
        f"{host.name} resolves the unlisted mining proxy {POOL_PROXY} every four minutes",
    )


def malicious_domain_request(run: Run) -> Scenario:
    w, tag = run.world, "scenario:malicious-domain-request"
    host = w.hosts["legacy-blog"]
    _beacon(run, host, PHISHING_PANEL, tag, run.start + 2400, 600, 8)
    return _scenario(
        tag,
        "Impact:EC2/MaliciousDomainRequest.Reputation",
        host,
        PHISHING_PANEL,
        f"{host.name} (a compromised blog serving a phishing kit) checks in with {PHISHING_PANEL}",
    )


def suspicious_domain_request(run: Run) -> Scenario:
    w, tag = run.world, "scenario:suspicious-domain-request"
    host = w.hosts["render-worker"]
    _beacon(run, host, LOOKALIKE, tag, run.start + 3000, 30, 4)
    return _scenario(
        tag,
        "Impact:EC2/SuspiciousDomainRequest.Reputation",
        host,
        LOOKALIKE,
        f"{host.name} renders a submitted link to the Office 365 look-alike {LOOKALIKE}",
    )


DNS_MODEL_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    dga_domain_request_b,
    abused_domain_request,
    bitcoin_domain_request,
    malicious_domain_request,
    suspicious_domain_request,
)
