"""The estate a month of history happens in: a London company's AWS account.

People work from two offices and their homes, all in Great Britain; CI runs on a hosted
provider's addresses in the US; instances sit in eu-west-2 behind a NAT gateway. Everything
is drawn from one seeded ``random.Random``, so the same seed gives the same ids and addresses.

Addresses are real allocations, so the country a scan gives them (``iptocc``, from the
registries' delegations) is stable: the /16s below were checked to be GB (offices, home
ISPs) or US (the CI provider); ``tests/tester/test_history.py`` checks them again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from keibi.tester.world import Ids

HOME_REGION: Final = "eu-west-2"
GLOBAL_REGION: Final = "us-east-1"
START: Final = datetime(2026, 10, 1, tzinfo=UTC)
"""Day 0 is Thursday 1 October 2026; London leaves summer time (UTC+1) on Sunday 25 October."""

OFFICE_NETS: Final = {"london": "195.194", "manchester": "62.31"}
HOME_NETS: Final = (
    "82.0", "82.1", "86.0", "86.128", "92.40", "2.120", "88.97", "109.144", "31.94", "217.155",
    "90.196", "94.0", "151.224", "81.98", "176.24", "5.64", "77.96", "80.189", "87.112", "89.240",
    "95.144", "213.104", "92.41", "2.121", "88.98", "109.145", "31.125", "90.197", "94.1", "151.225",
)  # fmt: skip
"""Consumer ISPs' /16s in GB (BT, Sky, Virgin Media, TalkTalk, Vodafone, EE…)."""
CI_NETS: Final = ("20.26", "20.51", "20.62", "4.175", "52.176")
"""The hosted CI provider's runners (Azure, US)."""
NAT_NET: Final = "35.176.0.0/15"
"""EC2 in eu-west-2 (``ip-ranges.json``): the NAT gateway's Elastic IPs."""
LAMBDA_NET: Final = "52.56.0.0/16"
"""EC2 in eu-west-2: Lambda functions' outbound addresses."""
VPC_CIDR: Final = "10.20"

# (name, job, kind, office, on_call, joined_day); kind "iam" has a long-term access key and signs
# in to the console with a password, "sso" works through IAM Identity Center role sessions.
PEOPLE: Final = (
    ("priya.shah", "developer", "iam", "london", False, 0),
    ("tom.baker", "ops", "iam", "london", True, 0),
    ("emma.clarke", "ops", "iam", "london", False, 0),
    ("li.wei", "contractor", "iam", "manchester", False, 0),
    ("oliver.hughes", "developer", "iam", "london", False, 0),
    ("amira.hassan", "data", "iam", "london", False, 0),
    ("jack.wilson", "developer", "iam", "manchester", False, 0),
    ("sophie.turner", "security", "iam", "london", False, 0),
    ("daniel.evans", "finance", "iam", "london", False, 0),
    ("grace.patel", "hr", "iam", "london", False, 0),
    ("noah.brown", "developer", "sso", "london", False, 0),
    ("mia.roberts", "developer", "sso", "london", False, 0),
    ("harry.green", "developer", "sso", "manchester", False, 0),
    ("isla.walker", "data", "sso", "london", False, 0),
    ("george.hall", "data", "sso", "manchester", False, 0),
    ("ava.wright", "ops", "sso", "london", True, 0),
    ("leo.king", "platform", "sso", "london", False, 0),
    ("freya.scott", "developer", "sso", "london", False, 0),
    ("arthur.young", "developer", "sso", "manchester", False, 0),
    ("lily.adams", "security", "sso", "london", False, 0),
    ("oscar.baker", "finance", "sso", "london", False, 0),
    ("ella.morris", "developer", "sso", "london", False, 0),
    ("jacob.lee", "data", "sso", "london", False, 0),
    ("ruby.clark", "developer", "sso", "london", False, 18),
)
PERMISSION_SETS: Final = {
    "developer": "DeveloperAccess",
    "data": "DataEngineer",
    "ops": "AdministratorAccess",
    "platform": "AdministratorAccess",
    "security": "SecurityAudit",
    "finance": "Billing",
    "hr": "HRDocuments",
    "contractor": "DeveloperAccess",
}

# (slot, tier, subnet, generations as (from_day, to_day)): an autoscaling refresh replaces
# web-3 and web-4 on day 12, a spot interruption replaces worker-3 on day 20.
INSTANCES: Final = (
    ("web-1", "web", "public", ((0, 30),)),
    ("web-2", "web", "public", ((0, 30),)),
    ("web-3", "web", "public", ((0, 12), (12, 30))),
    ("web-4", "web", "public", ((0, 12), (12, 30))),
    ("app-1", "app", "private", ((0, 30),)),
    ("app-2", "app", "private", ((0, 30),)),
    ("app-3", "app", "private", ((0, 30),)),
    ("app-4", "app", "private", ((0, 30),)),
    ("db-1", "db", "data", ((0, 30),)),
    ("db-2", "db", "data", ((0, 30),)),
    ("cache-1", "cache", "data", ((0, 30),)),
    ("cache-2", "cache", "data", ((0, 30),)),
    ("worker-1", "worker", "private", ((0, 30),)),
    ("worker-2", "worker", "private", ((0, 30),)),
    ("worker-3", "worker", "private", ((0, 20), (20, 30))),
    ("queue-1", "queue", "private", ((0, 30),)),
    ("search-1", "search", "data", ((0, 30),)),
    ("etl-1", "etl", "private", ((0, 30),)),
    ("backup-1", "backup", "private", ((0, 30),)),
    ("mail-relay", "mail", "private", ((0, 30),)),
    ("bastion", "bastion", "public", ((0, 30),)),
    ("monitor", "monitor", "private", ((0, 30),)),
    ("legacy-reports", "legacy", "private", ((0, 30),)),
    ("selenium-1", "selenium", "private", ((0, 30),)),
)
_SUBNETS: Final = {"public": 1, "private": 2, "data": 3}
BUCKETS: Final = (
    "acme-prod-assets",
    "acme-data-lake",
    "acme-backups",
    "acme-reports",
    "acme-hr-docs",
    "acme-uploads",
    "acme-exports",
)


@dataclass(frozen=True, slots=True)
class Person:
    """An employee: an IAM user (``kind`` iam) or an Identity Center user (``kind`` sso)."""

    name: str
    job: str
    kind: str
    office: str
    home: str
    """Home broadband address (changes now and then inside this /16)."""
    on_call: bool
    joined: int
    principal_id: str
    access_key: str
    """IAM users' long-term key; SSO users get a temporary key per day (see ``history_trail``)."""
    role_id: str
    """SSO users: their permission set's role id."""

    @property
    def permission_set(self) -> str:
        return PERMISSION_SETS[self.job]


@dataclass(frozen=True, slots=True)
class Instance:
    """One generation of an instance slot (``web-3`` before and after its replacement)."""

    slot: str
    tier: str
    instance_id: str
    eni: str
    ip: str
    subnet_id: str
    first_day: int
    last_day: int
    """Exclusive: the instance is running on days ``first_day`` ≤ d < ``last_day``."""


@dataclass
class HistoryWorld:
    """The account the month happens in; see the module docstring."""

    account_id: str
    dr_account_id: str
    vpc_id: str
    flow_log_id: str
    ids: Ids
    people: dict[str, Person]
    instances: list[Instance]
    roles: dict[str, str]
    """Role name → role id (``AROA…``)."""
    office_ips: dict[str, list[str]]
    ci_ips: list[str]
    nat_ips: list[str]
    lambda_ips: list[str]
    ips: dict[str, str] = field(default_factory=dict)
    """Named outside addresses (partners, offsite backup, attackers' VPSs)."""

    def arn(self, kind: str, name: str) -> str:
        return f"arn:aws:iam::{self.account_id}:{kind}/{name}"

    def slot(self, name: str, day: int) -> Instance:
        """The instance filling ``name`` on ``day``."""
        return next(i for i in self.instances if i.slot == name and i.first_day <= day < i.last_day)

    def tier(self, tier: str) -> list[Instance]:
        return [i for i in self.instances if i.tier == tier]


ROLES: Final = (
    "ci-deployer",
    "app-instance",
    "web-instance",
    "worker-instance",
    "etl-instance",
    "backup-writer",
    "reporting-task",
    "monthly-export",
    "dr-snapshots",
    "lambda-thumbnailer",
    "lambda-ingest",
    "AWSServiceRoleForConfig",
    "AWSServiceRoleForAutoScaling",
    "AWSServiceRoleForECS",
    *(f"AWSReservedSSO_{p}_{i:016x}" for i, p in enumerate(sorted(set(PERMISSION_SETS.values())))),
)


def sso_role(person: Person) -> str:
    """The role Identity Center made for ``person``'s permission set."""
    names = sorted(set(PERMISSION_SETS.values()))
    return f"AWSReservedSSO_{person.permission_set}_{names.index(person.permission_set):016x}"


def _in(rng: random.Random, net: str) -> str:
    return f"{net}.{rng.randrange(1, 255)}.{rng.randrange(2, 254)}"


def _in_cidr(rng: random.Random, cidr: str) -> str:
    base, bits = cidr.split("/")
    a, b, _, _ = (int(x) for x in base.split("."))
    span = 1 << (16 - int(bits))
    return f"{a}.{b + rng.randrange(span)}.{rng.randrange(256)}.{rng.randrange(2, 254)}"


def build_history_world(rng: random.Random) -> HistoryWorld:
    """Draw the estate for one seed."""
    ids = Ids(rng)
    account = str(rng.randrange(100_000_000_000, 999_999_999_999))
    subnets = {k: ids.resource("subnet") for k in _SUBNETS}
    homes = rng.sample(HOME_NETS, len(PEOPLE))
    people = {}
    for (name, job, kind, office, on_call, joined), home in zip(PEOPLE, homes, strict=True):
        people[name] = Person(
            name=name,
            job=job,
            kind=kind,
            office=office,
            home=_in(rng, home),
            on_call=on_call,
            joined=joined,
            principal_id=ids.key("AIDA"),
            access_key=ids.key("AKIA"),
            role_id="",
        )
    roles = {name: ids.key("AROA") for name in ROLES}
    people = {n: p if p.kind == "iam" else _with_role(p, roles[sso_role(p)]) for n, p in people.items()}
    instances = []
    hosts = 10
    for slot, tier, subnet, generations in INSTANCES:
        for first, last in generations:
            hosts += 1
            instances.append(
                Instance(
                    slot=slot,
                    tier=tier,
                    instance_id=ids.resource("i"),
                    eni=ids.resource("eni"),
                    ip=f"{VPC_CIDR}.{_SUBNETS[subnet]}.{hosts}",
                    subnet_id=subnets[subnet],
                    first_day=first,
                    last_day=last,
                )
            )
    offices = {
        site: [f"{net}.{rng.randrange(1, 255)}.{rng.randrange(2, 250) + k}" for k in range(2)]
        for site, net in OFFICE_NETS.items()
    }
    ci = [_in(rng, net) for net in CI_NETS for _ in range(8)]
    world = HistoryWorld(
        account_id=account,
        dr_account_id=str(rng.randrange(100_000_000_000, 999_999_999_999)),
        vpc_id=ids.resource("vpc"),
        flow_log_id=ids.resource("fl"),
        ids=ids,
        people=people,
        instances=instances,
        roles=roles,
        office_ips=offices,
        ci_ips=ci,
        nat_ips=[_in_cidr(rng, NAT_NET) for _ in range(2)],
        lambda_ips=[_in_cidr(rng, LAMBDA_NET) for _ in range(12)],
    )
    world.ips.update(_outside(rng))
    return world


def _with_role(person: Person, role_id: str) -> Person:
    return Person(
        name=person.name,
        job=person.job,
        kind=person.kind,
        office=person.office,
        home=person.home,
        on_call=person.on_call,
        joined=person.joined,
        principal_id=f"{role_id}:{person.name}@acme.co.uk",
        access_key="",
        role_id=role_id,
    )


# Outside hosts, each a real allocation in the country named (iptocc).
_OUTSIDE: Final = {
    "offsite_backup": "185.31",  # NL: the offsite backup provider
    "partner_sftp": "148.252",  # GB/IE: a partner's SFTP server
    "payments_api": "151.101",  # US: the payment provider's API (a CDN)
    "maps_api": "142.250",  # US
    "metrics_saas": "34.120",  # US: the monitoring SaaS intake
    "package_mirror": "91.189",  # GB: OS package mirror
    "vps_ro": "146.70",  # RO: M247 VPS, campaign A
    "vps_bg": "91.92",  # BG: VPS, campaign B
    "vps_br": "177.54",  # BR: VPS, campaign C
    "vps_sg": "139.59",  # SG: DigitalOcean, the console phisher
    "ldap_callback": "45.155",  # log4j callback host
    "exfil_drop": "159.223",  # US: DigitalOcean droplet receiving the database dump
    "doh_c2": "172.67",  # C2 behind a CDN
}


def _outside(rng: random.Random) -> dict[str, str]:
    return {name: _in(rng, net) for name, net in _OUTSIDE.items()}
