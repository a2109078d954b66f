"""The simulated AWS estate: one account, its VPC, instances, people and outside addresses.

Everything is drawn from one seeded ``random.Random`` so the same seed gives the same ids,
addresses and names, and so the same bytes on disk.
"""

from __future__ import annotations

import random
import string
import uuid
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv4Network
from typing import Final

_UPPER_DIGITS = string.ascii_uppercase + "234567"
_ALNUM = string.ascii_letters + string.digits

EC2_US_EAST_1: Final = ("3.80.0.0/12", "54.80.0.0/13", "44.192.0.0/11")
"""Prefixes AWS's ``ip-ranges.json`` lists for service EC2 in us-east-1: instances' public and
Elastic IPs, NAT gateways and Lambda's outbound addresses come from here."""
NOT_AWS_FIRST_OCTETS: Final = (73, 82, 90, 92, 109, 188, 212, 217)
"""First octets under which ``ip-ranges.json`` (2026-08) lists no prefix at all: home and office
ISPs, where stolen credentials get used "outside AWS"."""


class Ids:
    """AWS-shaped identifiers from a seeded generator (never from the clock or ``os.urandom``)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def resource(self, prefix: str) -> str:
        """``i-``, ``eni-``, ``vpc-``, ``subnet-``, ``fl-`` ids: 17 lower-case hex digits."""
        return f"{prefix}-{self.hex(17)}"

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def key(self, prefix: str) -> str:
        """Access key ids (``AKIA``/``ASIA``) and unique ids (``AIDA``/``AROA``)."""
        return prefix + "".join(
            self.rng.choices(_UPPER_DIGITS, k=16 if prefix.startswith(("AK", "AS")) else 17)
        )

    def token(self, n: int) -> str:
        return "".join(self.rng.choices(_ALNUM, k=n))

    def public_ip(self) -> str:
        """A routable unicast address outside private, shared, loopback and documentation ranges."""
        while True:
            ip = IPv4Address(self.rng.randrange(0x0B000000, 0xDF000000))
            if ip.is_global and not ip.is_reserved:
                return str(ip)

    def outside_aws_ip(self) -> str:
        """A public address in no AWS range (see :data:`NOT_AWS_FIRST_OCTETS`)."""
        first = self.rng.choice(NOT_AWS_FIRST_OCTETS)
        return f"{first}.{self.rng.randrange(256)}.{self.rng.randrange(256)}.{self.rng.randrange(1, 255)}"

    def aws_ip(self) -> str:
        """A public address in an EC2 range of us-east-1 (see :data:`EC2_US_EAST_1`)."""
        net = IPv4Network(self.rng.choice(EC2_US_EAST_1))
        return str(net.network_address + self.rng.randrange(256, net.num_addresses - 256))


@dataclass(frozen=True, slots=True)
class Host:
    """An instance (or load balancer node) and its primary network interface."""

    name: str
    instance_id: str | None
    eni: str
    ip: str
    subnet: str


@dataclass(frozen=True, slots=True)
class Person:
    """An IAM user: name, unique id and long-term access key."""

    user_name: str
    principal_id: str
    access_key_id: str
    ip: str


@dataclass
class World:
    """The account everything happens in; see the module docstring."""

    account_id: str
    region: str
    other_region: str
    vpc_id: str
    subnets: dict[str, str]
    flow_log_ids: dict[str, str]
    hosts: dict[str, Host]
    people: dict[str, Person]
    ips: dict[str, str]
    trail_arn: str
    ids: Ids
    other_account_id: str = ""
    internal_fleet: list[str] = field(default_factory=list)

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:{kind}/{name}"


# (name, subnet key, last octet); "bastion" sits alone in the subnet whose flow log is custom v5.
_HOSTS = (
    ("web-1", "public", 10),
    ("web-2", "public", 11),
    ("web-3", "public", 12),
    ("web-4", "public", 13),
    ("lb-a", "public", 100),
    ("lb-b", "public", 101),
    ("monitor", "private", 20),
    ("backup", "private", 30),
    ("ci-runner", "private", 40),
    ("scanner", "private", 50),
    ("ssh-actor", "private", 55),
    ("beacon", "private", 60),
    ("miner", "private", 70),
    ("phished", "private", 80),
    ("app-1", "private", 90),
    ("app-2", "private", 91),
    ("bastion", "mgmt", 5),
    # threat-intel scenarios (keibi.tester.scenarios_intel)
    ("c2-implant", "private", 64),
    ("dga-bot", "private", 66),
    ("tor-client", "private", 68),
    ("helpdesk", "private", 84),
    ("tor-relay", "public", 30),
    # brute-force and denial-of-service scenarios (keibi.tester.scenarios_bruteforce, _dos)
    ("win-1", "public", 14),
    ("win-2", "private", 95),
    ("rdp-actor", "private", 56),
    ("winrm-actor", "private", 57),
    ("ddos-bot", "private", 58),
    ("media", "private", 75),
    ("dns-forwarder", "private", 53),
    # flow-probe scenarios and their look-alikes (keibi.tester.scenarios_probes, background_probes)
    ("legacy-cms", "private", 97),
    ("es-node", "public", 40),
    ("emr-master", "public", 50),
    ("emr-core-1", "public", 51),
    ("emr-core-2", "public", 52),
    ("sftp-gw", "public", 60),
    # DNS signature scenarios and their look-alikes (keibi.tester.scenarios_dns_signatures, background_dns_signatures)
    ("dns-exfil", "private", 62),
    ("link-preview", "public", 16),
    ("mail-relay", "private", 25),
    ("file-scan", "private", 26),
    # DGA and domain-reputation scenarios (keibi.tester.scenarios_dns_models)
    ("qbot-victim", "private", 67),
    ("dev-tunnel", "private", 85),
    ("miner-2", "private", 71),
    ("legacy-blog", "public", 17),
    ("render-worker", "private", 86),
)
_SUBNET_PREFIX = {"public": "10.0.1", "private": "10.0.2", "mgmt": "10.0.3"}
_PEOPLE = (
    "alice",
    "bob",
    "dev-sam",
    "intern-joe",
    "svc-reporting",
    "build-bot",
    "legacy-etl",
    "contractor-li",
    "auditor-kim",
    "data-eng",
    "ops-admin",
    "web-publisher",
    "partner-admin",
    "ml-engineer",
    "partner-sync",
    "qa-automation",
    "vendor-upload",
    "analytics-ro",
    "mobile-backend",
)
# Named outside addresses; each is drawn once and never reused for anything else.
_IPS = (
    "root_attacker",
    "stoplogging",
    "kali",
    "parrot",
    "pentoo",
    "threat_iam",
    "trusted_threat",
    "portscan_target",
    "ssh_attacker",
    "ssh_victim",
    "office",
    "office2",
    "home_dev",
    "pool_supportxmr",
    "pool_nanopool",
    "phish_answer",
    "root_session",
    "llm_jacker",
    "tor_iam",
    "tor_s3",
    "malicious_iam",
    "malicious_s3",
    "c2_server",
    "drop_point",
    "sinkhole",
    "tor_guard",
    "tor_authority",
    "rdp_attacker",
    "rdp_victim",
    "winrm_attacker",
    "winrm_victim",
    "dos_udp_victim",
    "dos_udp_tcp_victim",
    "dos_dns_victim",
    "dos_tcp_victim",
    "dos_proto_victim",
    "known_scanner",
    "rebind_server",
)
# Outside AWS (stolen credentials used from a laptop) and inside it (the estate's own egress).
_OUTSIDE_IPS = ("exfil_laptop", "lambda_exfil")
_AWS_IPS = ("nat_gateway", "web3_public", "lambda_egress")
FEED_DECOYS: Final = 12
"""Other addresses on each feed (``tor_exit_<i>``, ``malicious_<i>``), never seen in the logs."""
TOR_RELAYS: Final = 60
"""Tor relays (``tor_relay_<i>``, on the TorRelay feed): the relay scenario's peers and decoys."""
TOR_WEB_EXITS: Final = 15
"""Tor exits (``tor_web_exit_<i>``, on the Tor feed) whose users browse the web servers."""
INTEL_FEEDS: Final = ("c2", "drop", "sinkhole", "mining")
"""Feeds of the threat-intel scenarios; each has ``FEED_DECOYS`` decoys (``<feed>_decoy_<i>``)."""


def build_world(rng: random.Random) -> World:
    """Draw the estate for one seed."""
    ids = Ids(rng)
    account = str(rng.randrange(100_000_000_000, 999_999_999_999))
    subnets = {k: ids.resource("subnet") for k in _SUBNET_PREFIX}
    hosts = {}
    for name, subnet, octet in _HOSTS:
        instance = None if name.startswith("lb-") else ids.resource("i")
        hosts[name] = Host(
            name, instance, ids.resource("eni"), f"{_SUBNET_PREFIX[subnet]}.{octet}", subnets[subnet]
        )
    ips = {name: ids.public_ip() for name in _IPS}
    # 185.220.101.0/24 style: a whole hosting block on the threat list, one of its hosts contacted.
    block = ids.public_ip().rsplit(".", 1)[0]
    ips["threat_cidr"] = f"{block}.0/24"
    ips["threat_cidr_host"] = f"{block}.{rng.randrange(2, 125)}"
    ips["threat_cidr_s3"] = f"{block}.{rng.randrange(125, 250)}"
    ips.update({name: ids.outside_aws_ip() for name in _OUTSIDE_IPS})
    ips.update({name: ids.aws_ip() for name in _AWS_IPS})
    # an attacker's own VPC in another account (private address seen through its endpoint)
    ips["inside_attacker"] = f"172.31.{rng.randrange(16, 96)}.{rng.randrange(4, 250)}"
    for feed in ("tor_exit", "malicious"):
        ips.update({f"{feed}_{i}": ids.public_ip() for i in range(FEED_DECOYS)})
    for feed in INTEL_FEEDS:
        ips.update({f"{feed}_decoy_{i}": ids.public_ip() for i in range(FEED_DECOYS)})
    ips.update({f"tor_relay_{i}": ids.public_ip() for i in range(TOR_RELAYS)})
    ips.update({f"tor_web_exit_{i}": ids.public_ip() for i in range(TOR_WEB_EXITS)})
    people = {
        name: Person(name, ids.key("AIDA"), ids.key("AKIA"), ips["office"] if i < 4 else ids.public_ip())
        for i, name in enumerate(_PEOPLE)
    }
    fleet = [f"10.0.{rng.randrange(4, 12)}.{rng.randrange(4, 250)}" for _ in range(60)]
    return World(
        account_id=account,
        region="us-east-1",
        other_region="eu-west-1",
        vpc_id=ids.resource("vpc"),
        subnets=subnets,
        flow_log_ids={"vpc": ids.resource("fl"), "bastion": ids.resource("fl")},
        hosts=hosts,
        people=people,
        ips=ips,
        trail_arn=f"arn:aws:cloudtrail:us-east-1:{account}:trail/management-events",
        ids=ids,
        other_account_id=str(rng.randrange(100_000_000_000, 999_999_999_999)),
        internal_fleet=sorted(set(fleet)),
    )
