"""A month of the VPC's everyday traffic, as its v5 flow log (with ``instance-id``) records it.

What an instance baseline has to learn and then tolerate: web servers whose load rises through
the day; app servers on database, cache and queue ports; a nightly backup sending tens of GB
to the same offsite host (three times as much on day 0 and day 28, the full backups); a
mail relay that sends SMTP to many hosts; an old reporting box that has always resolved
through a public resolver; a test grid whose browsers use DNS over HTTPS; a partner's SFTP
server once a day; Sunday maintenance windows fetching packages; internet scanners rejected
at the public instances; and instances replaced mid-month (new ids, new addresses).
Internal connections are logged on both instances' interfaces, as AWS does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from keibi.tester.history_benign import web_curve
from keibi.tester.history_run import HOUR, History, flow_plan, hours
from keibi.tester.history_world import Instance
from keibi.tester.manifest import Background

ALB_NODES: Final = ("10.20.1.200", "10.20.1.201")
MB: Final = 1_000_000
GB: Final = 1_000_000_000


def row(
    inst: Instance,
    side: str,
    remote: str,
    port: int,
    t: int,
    n: int,
    c: int,
    s: int,
    tag: str,
    **extra: object,
) -> dict[str, object]:
    return {
        "instance": inst.slot,
        "eni": inst.eni,
        "instance_id": inst.instance_id,
        "subnet_id": inst.subnet_id,
        "local_ip": inst.ip,
        "side": side,
        "remote_ip": remote,
        "server_port": port,
        "start": t,
        "length": HOUR,
        "n": n,
        "c_bytes": c,
        "s_bytes": s,
        "tag": tag,
        **extra,
    }


def _peer(inst: Instance) -> dict[str, object]:
    return {"peer_eni": inst.eni, "peer_instance_id": inst.instance_id, "peer_subnet_id": inst.subnet_id}


def _n(h: History, mean: float) -> int:
    """A count around ``mean`` (stochastic rounding, ±40%)."""
    value = mean * h.rng.uniform(0.6, 1.4)
    return int(value) + (1 if h.rng.random() < value - int(value) else 0)


def services(h: History) -> Background:
    """The application: web → app → database, cache, queue, search; outside APIs and the SaaS."""
    w = h.world
    ips = w.ips
    rows: list[dict[str, object]] = []
    for inst in w.instances:
        for d, t, local in hours(h, inst.first_day, inst.last_day):
            curve = web_curve(local)

            def peer(slot: str, d: int = d) -> Instance:
                return w.slot(slot, d)

            tag = f"benign:services/{inst.tier}"
            if inst.tier == "web":
                rows.append(
                    row(
                        inst,
                        "server",
                        ALB_NODES[t // HOUR % 2],
                        8080,
                        t,
                        _n(h, 28 * curve),
                        1_400,
                        24_000,
                        tag,
                    )
                )
                app = peer(f"app-{1 + (t // HOUR + int(inst.slot[-1])) % 4}")
                rows.append(
                    row(
                        inst,
                        "client",
                        app.ip,
                        8443,
                        t,
                        _n(h, 2 * curve + 0.5),
                        2_000,
                        15_000,
                        tag,
                        **_peer(app),
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        ips["payments_api"],
                        443,
                        t,
                        _n(h, 1.2 * curve),
                        3_000,
                        6_000,
                        tag,
                        internet=True,
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        ips["maps_api"],
                        443,
                        t,
                        _n(h, 0.5 * curve),
                        1_500,
                        30_000,
                        tag,
                        internet=True,
                    )
                )
            elif inst.tier == "app":
                for db, k in (("db-1", 2.0), ("db-2", 1.0)):
                    rows.append(
                        row(
                            inst,
                            "client",
                            peer(db).ip,
                            5432,
                            t,
                            _n(h, k * (0.4 + curve)),
                            9_000,
                            80_000,
                            tag,
                            **_peer(peer(db)),
                        )
                    )
                cache = peer(f"cache-{1 + int(inst.slot[-1]) % 2}")
                rows.append(
                    row(inst, "client", cache.ip, 6379, t, _n(h, 1.0), 20_000, 40_000, tag, **_peer(cache))
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("queue-1").ip,
                        5672,
                        t,
                        _n(h, 0.8),
                        6_000,
                        3_000,
                        tag,
                        **_peer(peer("queue-1")),
                    )
                )
                rows.append(
                    row(inst, "client", ips["metrics_saas"], 443, t, 1, 90_000, 4_000, tag, internet=True)
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        ips["payments_api"],
                        443,
                        t,
                        _n(h, 0.6 * curve),
                        3_000,
                        6_000,
                        tag,
                        internet=True,
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("mail-relay").ip,
                        587,
                        t,
                        _n(h, 0.3 * curve),
                        12_000,
                        2_000,
                        tag,
                        **_peer(peer("mail-relay")),
                    )
                )
            elif inst.tier == "worker":
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("queue-1").ip,
                        5672,
                        t,
                        _n(h, 1.5),
                        3_000,
                        9_000,
                        tag,
                        **_peer(peer("queue-1")),
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("db-1").ip,
                        5432,
                        t,
                        _n(h, 0.7),
                        9_000,
                        50_000,
                        tag,
                        **_peer(peer("db-1")),
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("search-1").ip,
                        9200,
                        t,
                        _n(h, 0.7),
                        40_000,
                        5_000,
                        tag,
                        **_peer(peer("search-1")),
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        ips["maps_api"],
                        443,
                        t,
                        _n(h, 2.0 * curve),
                        1_500,
                        30_000,
                        tag,
                        internet=True,
                    )
                )
            elif inst.tier == "etl":
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("db-2").ip,
                        5432,
                        t,
                        _n(h, 0.8),
                        6_000,
                        3 * MB,
                        tag,
                        **_peer(peer("db-2")),
                    )
                )
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("search-1").ip,
                        9200,
                        t,
                        _n(h, 0.6),
                        2 * MB,
                        8_000,
                        tag,
                        **_peer(peer("search-1")),
                    )
                )
                if local == 6:
                    rows.append(
                        row(
                            inst,
                            "client",
                            ips["partner_sftp"],
                            22,
                            t,
                            1,
                            4 * MB,
                            200_000,
                            "benign:services/partner-sftp",
                            internet=True,
                        )
                    )
            elif inst.slot == "db-1":
                rows.append(
                    row(
                        inst,
                        "client",
                        peer("db-2").ip,
                        5432,
                        t,
                        1,
                        30 * MB,
                        40_000,
                        "benign:services/replication",
                        **_peer(peer("db-2")),
                    )
                )
            elif inst.tier == "monitor":
                rows.append(
                    row(inst, "client", ips["metrics_saas"], 443, t, 2, 300_000, 6_000, tag, internet=True)
                )
                for target in ("web-1", "app-1", "app-2", "db-1", "db-2", "queue-1", "search-1", "cache-1"):
                    rows.append(
                        row(
                            inst,
                            "client",
                            peer(target).ip,
                            9100,
                            t,
                            1,
                            600,
                            12_000,
                            "benign:services/scrape",
                            **_peer(peer(target)),
                        )
                    )
            elif inst.tier == "legacy":
                rows.append(
                    row(
                        inst,
                        "client",
                        "8.8.8.8",
                        53,
                        t,
                        _n(h, 5.0),
                        70,
                        130,
                        "twin:legacy-public-resolver",
                        protocol=17,
                        internet=True,
                    )
                )
                if local == 5:
                    rows.append(
                        row(
                            inst,
                            "client",
                            peer("db-1").ip,
                            5432,
                            t,
                            1,
                            8_000,
                            20 * MB,
                            tag,
                            **_peer(peer("db-1")),
                        )
                    )
            elif inst.tier == "selenium" and h.workday(d) and 8 <= local < 19:
                for resolver in ("1.1.1.1", "8.8.8.8"):
                    rows.append(
                        row(
                            inst,
                            "client",
                            resolver,
                            443,
                            t,
                            _n(h, 1.5),
                            4_000,
                            9_000,
                            "twin:selenium-doh",
                            internet=True,
                        )
                    )
                rows.append(
                    row(
                        inst,
                        "client",
                        w.ips["payments_api"],
                        443,
                        t,
                        _n(h, 3.0),
                        3_000,
                        6_000,
                        tag,
                        internet=True,
                    )
                )
    flow_plan(h, rows)
    return Background(
        "services",
        "vpc_flow",
        "web servers (load rising through the day) → app servers → databases, caches, queue, search; outside APIs "
        "and a metrics SaaS; a partner's SFTP daily; a legacy box resolving through 8.8.8.8; a test grid using DoH",
    )


def backups(h: History) -> Background:
    """Nightly dumps pulled from the databases and pushed to the offsite provider; full backups on
    day 0 and day 28 move three times as much for three times as long."""
    w = h.world
    rows: list[dict[str, object]] = []
    for d in range(h.days):
        inst = w.slot("backup-1", d)
        full = d in (0, 28)
        tag = "twin:full-backup" if full else "benign:backups"
        for k in range(3 if full else 1):
            t = h.local(d, 2.0 + k)
            for db in ("db-1", "db-2"):
                peer = w.slot(db, d)
                rows.append(
                    row(
                        inst,
                        "client",
                        peer.ip,
                        5432,
                        t,
                        2,
                        3_000,
                        int(1.2 * GB * h.rng.uniform(0.8, 1.2)),
                        tag,
                        **_peer(peer),
                    )
                )
            rows.append(
                row(
                    inst,
                    "client",
                    w.ips["offsite_backup"],
                    443,
                    t + 1200,
                    6,
                    int(1.6 * GB * h.rng.uniform(0.8, 1.2)),
                    200_000,
                    tag,
                    internet=True,
                )
            )
    flow_plan(h, rows)
    return Background(
        "backups",
        "vpc_flow",
        "nightly database dumps, ~10 GB a night to one offsite host; full backups on day 0 and day 28",
    )


def mail(h: History) -> Background:
    """The mail relay delivers the application's mail to recipients' MX hosts on port 25."""
    w, rng = h.world, h.rng
    mx = [
        f"{rng.choice((74, 142, 209, 40, 52, 104, 66, 98, 212, 217, 185, 195))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        for _ in range(700)
    ]
    weights = [1.0 / (1 + i) ** 0.9 for i in range(len(mx))]
    rows: list[dict[str, object]] = []
    for d, t, local in hours(h, 0, h.days):
        inst = w.slot("mail-relay", d)
        for remote in rng.choices(mx, weights, k=_n(h, 8 * web_curve(local))):
            rows.append(
                row(inst, "client", remote, 25, t, 1, 35_000, 1_200, "twin:mail-relay", internet=True)
            )
    flow_plan(h, rows)
    return Background(
        "mail", "vpc_flow", "the mail relay sends SMTP to hundreds of recipients' MX hosts a day"
    )


def maintenance(h: History) -> Background:
    """Sunday 02:00-04:00: every instance fetches packages; people use the bastion in office hours;
    scanners knock on the public instances and are rejected."""
    w, rng = h.world, h.rng
    rows: list[dict[str, object]] = []
    for d in range(h.days):
        if h.weekday(d) == 6:
            for inst in w.instances:
                if inst.first_day <= d < inst.last_day:
                    t = h.local(d, 2.0)
                    rows.append(
                        row(
                            inst,
                            "client",
                            w.ips["package_mirror"],
                            443,
                            t,
                            2,
                            4_000,
                            80 * MB,
                            "benign:maintenance",
                            internet=True,
                        )
                    )
                    rows.append(
                        row(
                            inst,
                            "client",
                            w.ips["package_mirror"],
                            80,
                            t + HOUR,
                            1,
                            2_000,
                            10 * MB,
                            "benign:maintenance",
                            internet=True,
                        )
                    )
    for d, t, local in hours(h, 0, h.days):
        bastion = w.slot("bastion", d)
        if h.workday(d) and 9 <= local < 18 and rng.random() < 0.5:
            office = rng.choice(w.office_ips["london"] + w.office_ips["manchester"])
            rows.append(
                row(
                    bastion,
                    "server",
                    office,
                    22,
                    t,
                    1,
                    200_000,
                    900_000,
                    "benign:maintenance/ssh",
                    internet=True,
                )
            )
            target = w.slot(rng.choice(("app-1", "app-2", "worker-1", "db-1")), d)
            rows.append(
                row(
                    bastion,
                    "client",
                    target.ip,
                    22,
                    t,
                    1,
                    150_000,
                    800_000,
                    "benign:maintenance/ssh",
                    **_peer(target),
                )
            )
        for slot in ("web-1", "web-2", "web-3", "web-4", "bastion"):
            inst = w.slot(slot, d)
            for _ in range(_n(h, 1.2)):
                remote = f"{rng.choice((45, 80, 89, 193, 194, 185, 162, 167))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
                port = rng.choice((22, 23, 445, 3389, 5900, 6379, 8080, 9200, 1433, 3306))
                rows.append(
                    row(
                        inst,
                        "server",
                        remote,
                        port,
                        t,
                        1,
                        60,
                        0,
                        "benign:internet-scanners",
                        internet=True,
                        action="REJECT",
                    )
                )
    flow_plan(h, rows)
    return Background(
        "maintenance",
        "vpc_flow",
        "Sunday package updates on every instance, SSH through the bastion in office hours, rejected scanner probes",
    )


FLOW: Final[tuple[Callable[[History], Background], ...]] = (services, backups, mail, maintenance)
