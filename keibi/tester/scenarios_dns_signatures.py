"""DNS signature scenarios: data tunnelled out through query names, and DNS rebinding onto the
instance metadata service.

- ``dns-exfil`` sends a 24 KiB archive to ``EXFIL_DOMAIN``'s name server the way DNS
  exfiltration tools do (DNSExfiltrator, dnscat2): base32 chunks in two labels of up to 56 and
  40 characters, a sequence number in front, TXT queries acknowledged by the server, a few
  retries; about 400 queries over ten minutes that cross an hour boundary.
- ``link-preview`` is a web application that fetches any URL a user submits. An attacker
  submits ``http://<attacker>.a9fea9fe.rbndr.us/latest/meta-data/iam/security-credentials/``;
  ``rbndr.us`` answers that name with either address it encodes, at random and with a
  one-second TTL, so the application's repeated lookups get the attacker's page or the
  metadata address ``169.254.169.254`` (``a9fea9fe``).

See ``keibi.tester.scenarios`` for how scenarios are recorded and registered;
``keibi.tester.background_dns_signatures`` holds their benign look-alikes.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Callable
from typing import Final

import polars as pl

from keibi.tester.dnslogs import answers_json
from keibi.tester.flowlogs import SYN_FIN, SYNACK_FIN
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.vec import arange, where

EXFIL_DOMAIN: Final = "northwind-analytics.com"
"""The attacker's domain: its name server receives every query for a name under it."""
EXFIL_BYTES: Final = 24 * 1024
IMDS: Final = "169.254.169.254"


def chunks(data: bytes) -> list[str]:
    """``data`` as query names: ``<seq:4 hex><56 base32>.<40 base32>.EXFIL_DOMAIN.``."""
    text = base64.b32encode(data).decode().rstrip("=").lower()
    names = []
    for seq, at in enumerate(range(0, len(text), 96)):
        part = text[at : at + 96]
        labels = [f"{seq:04x}{part[:56]}", part[56:]]
        names.append(".".join(label for label in labels if label) + f".{EXFIL_DOMAIN}.")
    return names


def dns_data_exfiltration(run: Run) -> Scenario:
    w, tag = run.world, "scenario:dns-data-exfiltration"
    host = w.hosts["dns-exfil"]
    names = chunks(run.rng.randbytes(EXFIL_BYTES))
    # a few queries time out and are sent again a second later, as the tools do
    retries = sorted(run.rng.sample(range(len(names)), len(names) // 20))
    order = sorted([(i, 0) for i in range(len(names))] + [(i, 1) for i in retries])
    n = len(order)
    start = run.start + 3300  # 00:55: the transfer runs across the hour's end
    times = start + pl.Series([i for i, _ in order]) * 3 // 2 + pl.Series([r for _, r in order])
    acks = [answers_json([f'"{i:04x}"'], "TXT") for i, _ in order]
    run.queries(
        host,
        time=times,
        query_name=[names[i] for i, _ in order],
        query_type="TXT",
        rcode="NOERROR",
        answers=acks,
        srcport=run.ephemeral(n),
        tag=tag,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Trojan:EC2/DNSDataExfiltration",
        "dns",
        "Instance",
        str(host.instance_id),
        {"instance_id": str(host.instance_id), "domain": EXFIL_DOMAIN},
        f"{host.name} sends {EXFIL_BYTES // 1024} KiB base32-encoded in {len(names)} TXT queries "
        f"(plus {len(retries)} retries) under {EXFIL_DOMAIN} in ten minutes",
    )


def metadata_dns_rebind(run: Run) -> Scenario:
    w, tag = run.world, "scenario:metadata-dns-rebind"
    host, attacker = w.hosts["link-preview"], w.ips["rebind_server"]
    name = f"{int(ipaddress.IPv4Address(attacker)):08x}.a9fea9fe.rbndr.us"
    n = 36  # the preview worker retries until it gets a page, then fetches it again per request
    times = run.start + 5200 + arange(n) * 5 + run.vec.integers(0, 3, n)
    to_metadata = run.vec.random(n) < 0.5
    answers = where(to_metadata, answers_json([IMDS], "A"), answers_json([attacker], "A"))
    run.queries(
        host,
        time=times,
        query_name=f"{name}.",
        query_type="A",
        rcode="NOERROR",
        answers=answers,
        srcport=run.ephemeral(n),
        tag=tag,
    )
    run.queries(
        host,
        time=times,
        query_name=f"{name}.",
        query_type="AAAA",
        rcode="NOERROR",
        answers="[]",
        srcport=run.ephemeral(n),
        tag=f"{tag}/aaaa",
    )
    # the fetches that reached the attacker's page (those to the metadata address leave no flow record)
    page = times.filter(~to_metadata)
    k = page.len()
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(k),
        server_ip=attacker,
        server_port=80,
        protocol=6,
        start=page + 1,
        end=page + 2,
        c_packets=run.vec.integers(5, 8, k),
        c_bytes=run.vec.integers(600, 900, k),
        c_flags=SYN_FIN,
        s_packets=run.vec.integers(4, 7, k),
        s_bytes=run.vec.integers(1200, 2400, k),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=f"{tag}/http",
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:EC2/MetadataDNSRebind",
        "dns",
        "Instance",
        str(host.instance_id),
        {"instance_id": str(host.instance_id), "domain": name},
        f"{host.name} resolves {name} {n} times; rbndr.us answers {IMDS} about half of them",
    )


DNS_SIGNATURE_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    dns_data_exfiltration,
    metadata_dns_rebind,
)
