"""Benign background: the everyday traffic of a small production account. It must raise nothing.

Some of it is there on purpose to sit close to a detector's threshold without crossing it:
busy clients behind one NAT address (many source ports on one web server), internet scanners
whose probes the security groups reject (inbound, many ports), a monitoring host polling one
port on many hosts, a long interactive SSH session (many records on one 5-tuple), AWS services
acting for the account (service host names as source IP), console sign-ins by root, a denied
StopLogging, and a domain that ends with a listed name without being a subdomain of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl

from keibi.tester.background_bruteforce_dos import BRUTE_FORCE_DOS
from keibi.tester.background_config import CONFIG
from keibi.tester.background_dns_names import DNS_NAMES_BACKGROUND
from keibi.tester.background_dns_signatures import DNS_SIGNATURE_BACKGROUND
from keibi.tester.background_intel import INTEL_BACKGROUND
from keibi.tester.background_probes import PROBE_BACKGROUND
from keibi.tester.cloudtrail import (
    BOTO3_UA,
    CONSOLE_UA,
    TERRAFORM_UA,
    UBUNTU_CLI_UA,
    Role,
    console_user,
    iam_user,
    root,
)
from keibi.tester.dnslogs import answers_json, queries
from keibi.tester.flowlogs import SYN, SYN_FIN, SYNACK_FIN, ip_strings, public_ips
from keibi.tester.lists import NEAR_MISS_DOMAIN
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.s3 import object_call
from keibi.tester.vec import arange, where

WEBS: Final = ("web-1", "web-2", "web-3", "web-4")


def _excluded(run: Run) -> list[str]:
    """Addresses the scenarios own; background pools never draw them."""
    return list(run.world.ips.values())


def _pool(run: Run, n: int) -> pl.Series:
    return ip_strings(public_ips(run.vec, n, _excluded(run)))


def _span(run: Run) -> int:
    return run.end - run.start


def _n(run: Run, base: float) -> int:
    return max(1, int(base * run.scale))


def _https(run: Run, n: int) -> dict[str, Any]:
    start = run.times(n, run.start, _span(run))
    c_packets = run.vec.integers(6, 40, n)
    s_packets = run.vec.integers(8, 120, n)
    return {
        "client_port": run.vec.integers(1024, 65536, n),
        "protocol": 6,
        "start": start,
        "end": start + run.vec.integers(0, 30, n),
        "c_packets": c_packets,
        "c_bytes": c_packets * run.vec.integers(60, 400, n),
        "c_flags": SYN_FIN,
        "s_packets": s_packets,
        "s_bytes": s_packets * run.vec.integers(200, 1400, n),
        "s_flags": SYNACK_FIN,
        "action": "ACCEPT",
    }


# --- VPC flow -------------------------------------------------------------------------------------


def web_clients(run: Run) -> Background:
    """Thousands of distinct clients on HTTPS, heavy-tailed; busy NAT addresses included."""
    w, tag = run.world, "background:web-clients"
    pool = _pool(run, _n(run, 5000) + 50)
    n = _n(run, 16000)
    weights = 1.0 / arange(1, len(pool) + 1).cast(pl.Float64) ** 0.6
    clients = run.vec.choice(pool, n, weights)
    which = run.vec.integers(0, len(WEBS), n)
    cols = _https(run, n)
    for i, name in enumerate(WEBS):
        mask = which == i
        host = w.hosts[name]
        run.sessions(
            host,
            "server",
            client_ip=clients.filter(mask),
            server_ip=host.ip,
            server_port=443,
            internet=True,
            tag=tag,
            **{k: v.filter(mask) if isinstance(v, pl.Series) else v for k, v in cols.items()},
        )
    # three corporate NAT addresses, 60 connections each to web-1 within eight minutes
    nat = _pool(run, 3)
    host = w.hosts["web-1"]
    for k, ip in enumerate(nat.to_list()):
        cols = _https(run, 60)
        cols["start"] = run.times(60, run.start + 600 + 1500 * k, 480)
        cols["end"] = cols["start"] + 5
        run.sessions(
            host,
            "server",
            client_ip=ip,
            server_ip=host.ip,
            server_port=443,
            internet=True,
            tag="background:web-clients/nat",
            **cols,
        )
    return Background(
        "web-clients",
        "vpc_flow",
        "HTTPS to four web servers from thousands of clients, "
        "plus three NAT addresses making 60 connections each within eight minutes",
    )


def health_checks(run: Run) -> Background:
    w, tag = run.world, "background:lb-health-checks"
    interval = max(5, int(30 / run.scale))
    for lb in ("lb-a", "lb-b"):
        for web in WEBS:
            start = arange(run.start + run.rng.randrange(interval), run.end, interval)
            n = len(start)
            cols: dict[str, Any] = {
                "client_ip": w.hosts[lb].ip,
                "client_port": run.ephemeral(n),
                "server_ip": w.hosts[web].ip,
                "server_port": 8080,
                "protocol": 6,
                "start": start,
                "end": start + 1,
                "c_packets": 5,
                "c_bytes": 402,
                "c_flags": SYN_FIN,
                "s_packets": 4,
                "s_bytes": 519,
                "s_flags": SYNACK_FIN,
                "action": "ACCEPT",
                "internet": False,
                "tag": tag,
            }
            run.sessions(w.hosts[lb], "client", **cols)
            run.sessions(w.hosts[web], "server", **cols)
    return Background(
        "lb-health-checks",
        "vpc_flow",
        "two load balancer nodes check GET /healthz on :8080 of each web server",
    )


def monitoring(run: Run) -> Background:
    w, tag, host = run.world, "background:monitoring", run.world.hosts["monitor"]
    interval = max(10, int(60 / run.scale))
    for target in w.internal_fleet:
        start = arange(run.start + run.rng.randrange(interval), run.end, interval)
        n = len(start)
        run.sessions(
            host,
            "client",
            client_ip=host.ip,
            client_port=run.ephemeral(n),
            server_ip=target,
            server_port=9100,
            protocol=6,
            start=start,
            end=start + 1,
            c_packets=6,
            c_bytes=520,
            c_flags=SYN_FIN,
            s_packets=8,
            s_bytes=run.vec.integers(9000, 14000, n),
            s_flags=SYNACK_FIN,
            action="ACCEPT",
            internet=False,
            tag=tag,
        )
    return Background(
        "monitoring", "vpc_flow", f"monitor scrapes :9100 on {len(w.internal_fleet)} hosts every minute"
    )


def ntp_and_dns(run: Run) -> Background:
    w, tag = run.world, "background:ntp-dns"
    ntp = _pool(run, 4).to_list()
    resolvers = ("8.8.8.8", "1.1.1.1")
    for host in (w.hosts[name] for name in (*WEBS, "bastion", "monitor")):
        start = arange(run.start + run.rng.randrange(256), run.end, 256)
        n = len(start)
        run.sessions(
            host,
            "client",
            client_ip=host.ip,
            client_port=123,
            server_ip=run.rng.choice(ntp),
            server_port=123,
            protocol=17,
            start=start,
            end=start,
            c_packets=1,
            c_bytes=76,
            c_flags=0,
            s_packets=1,
            s_bytes=76,
            s_flags=0,
            action="ACCEPT",
            internet=True,
            tag=tag,
        )
    for name in ("bastion", "ci-runner"):
        host = w.hosts[name]
        n = _n(run, 150)
        start = run.times(n, run.start, _span(run))
        run.sessions(
            host,
            "client",
            client_ip=host.ip,
            client_port=run.ephemeral(n),
            server_ip=[resolvers[i % 2] for i in range(n)],
            server_port=53,
            protocol=17,
            start=start,
            end=start,
            c_packets=1,
            c_bytes=run.vec.integers(60, 90, n),
            c_flags=0,
            s_packets=1,
            s_bytes=run.vec.integers(90, 300, n),
            s_flags=0,
            action="ACCEPT",
            internet=True,
            tag=tag,
        )
    return Background(
        "ntp-dns",
        "vpc_flow",
        "NTP every 256 s to public pool servers from the web, bastion and monitoring hosts (the rest use Amazon Time Sync, which flow logs do not see); two hosts use public resolvers",
    )


def backup(run: Run) -> Background:
    """Six parallel multipart uploads to S3, one record per connection per ten-minute window."""
    _w, tag, host = run.world, "background:backup-to-s3", run.world.hosts["backup"]
    s3 = [f"52.216.{run.rng.randrange(0, 256)}.{run.rng.randrange(1, 255)}" for _ in range(6)]
    windows = arange(run.start + 300, run.end, 600)
    for ip in s3:
        n = len(windows)
        run.sessions(
            host,
            "client",
            client_ip=host.ip,
            client_port=run.rng.randrange(32768, 61000),
            server_ip=ip,
            server_port=443,
            protocol=6,
            start=windows,
            end=windows + 599,
            c_packets=run.vec.integers(300_000, 400_000, n),
            c_bytes=run.vec.integers(400_000_000, 560_000_000, n),
            c_flags=0,
            s_packets=run.vec.integers(150_000, 200_000, n),
            s_bytes=run.vec.integers(8_000_000, 11_000_000, n),
            s_flags=0,
            action="ACCEPT",
            internet=True,
            tag=tag,
        )
    return Background(
        "backup-to-s3", "vpc_flow", "backup host streams ~0.5 GB per connection per window to S3"
    )


def outbound_https(run: Run) -> Background:
    w, tag = run.world, "background:outbound-https"
    apis = _pool(run, 300)
    for name in ("app-1", "app-2", "ci-runner"):
        host = w.hosts[name]
        n = _n(run, 1500)
        cols = _https(run, n)
        cols["client_port"] = run.ephemeral(n)
        run.sessions(
            host,
            "client",
            client_ip=host.ip,
            server_ip=apis.gather(run.vec.integers(0, len(apis), n)),
            server_port=443,
            internet=True,
            tag=tag,
            **cols,
        )
    # app-2 polls one partner API with a new connection every few seconds
    host, partner = w.hosts["app-2"], _pool(run, 1)[0]
    cols = _https(run, 200)
    cols["client_port"] = run.ephemeral(200)
    cols["start"] = run.times(200, run.start + 5000, 600)
    cols["end"] = cols["start"] + 1
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        server_ip=partner,
        server_port=443,
        internet=True,
        tag="background:outbound-https/api-polling",
        **cols,
    )
    return Background(
        "outbound-https",
        "vpc_flow",
        "app and CI hosts call 300 outside APIs on 443; "
        "app-2 opens 200 connections to one partner API in ten minutes",
    )


def internet_noise(run: Run) -> Background:
    """Scanners probing the public web servers; security groups reject all but 443."""
    w, tag = run.world, "background:inbound-scanners"
    scanners = _pool(run, _n(run, 150))
    for ip in scanners.to_list():
        host = w.hosts[run.rng.choice(WEBS)]
        n = run.rng.randrange(1, 6)
        start = run.times(n, run.start, _span(run))
        run.sessions(
            host,
            "server",
            client_ip=ip,
            client_port=run.ephemeral(n),
            server_ip=host.ip,
            server_port=run.vec.choice([22, 23, 3389, 445, 8080, 6379, 9200, 5900], n),
            protocol=6,
            start=start,
            end=start,
            c_packets=1,
            c_bytes=40,
            c_flags=SYN,
            s_packets=0,
            s_bytes=0,
            s_flags=0,
            action="REJECT",
            internet=True,
            tag=tag,
        )
    # two aggressive scanners sweep 60 ports of web-2 within five minutes: inbound, all rejected
    for k, ip in enumerate(_pool(run, 2).to_list()):
        host = w.hosts["web-2"]
        ports = run.vec.sample(arange(1, 10000), 60)
        start = run.times(60, run.start + 1200 + 2400 * k, 300)
        run.sessions(
            host,
            "server",
            client_ip=ip,
            client_port=54_321,
            server_ip=host.ip,
            server_port=ports,
            protocol=6,
            start=start,
            end=start,
            c_packets=1,
            c_bytes=44,
            c_flags=SYN,
            s_packets=0,
            s_bytes=0,
            s_flags=0,
            action="REJECT",
            internet=True,
            tag="background:inbound-scanners/port-sweep",
        )
    # pings, rejected
    for ip in _pool(run, 20).to_list():
        host = w.hosts[run.rng.choice(WEBS)]
        t = run.start + run.rng.randrange(_span(run))
        run.sessions(
            host,
            "server",
            client_ip=ip,
            client_port=0,
            server_ip=host.ip,
            server_port=0,
            protocol=1,
            start=t,
            end=t + 2,
            c_packets=3,
            c_bytes=252,
            c_flags=0,
            s_packets=0,
            s_bytes=0,
            s_flags=0,
            action="REJECT",
            internet=True,
            tag=tag,
        )
    return Background(
        "inbound-scanners",
        "vpc_flow",
        "internet scanners probe the web servers (rejected); "
        "two of them sweep 60 ports of web-2 in five minutes",
    )


def admin_ssh(run: Run) -> Background:
    """Two admin logins to the bastion; one stays 30 minutes (30 one-minute records each way)."""
    w, tag, bastion = run.world, "background:admin-ssh", run.world.hosts["bastion"]
    for ip, t0, minutes in (
        (w.ips["office2"], run.start + 1500, 30),
        (w.ips["home_dev"], run.start + 5400, 3),
    ):
        start = t0 + arange(minutes) * 60
        run.sessions(
            bastion,
            "server",
            client_ip=ip,
            client_port=run.rng.randrange(49152, 65535),
            server_ip=bastion.ip,
            server_port=22,
            protocol=6,
            start=start,
            end=start + 59,
            c_packets=run.vec.integers(20, 200, minutes),
            c_bytes=run.vec.integers(3000, 30000, minutes),
            c_flags=where(arange(minutes) == 0, SYN, 0),
            s_packets=run.vec.integers(20, 300, minutes),
            s_bytes=run.vec.integers(5000, 90000, minutes),
            s_flags=where(arange(minutes) == 0, 18, 0),
            action="ACCEPT",
            internet=True,
            tag=tag,
        )
    # from the bastion to two app servers
    for name in ("app-1", "app-2"):
        t = run.start + 1700 + run.rng.randrange(600)
        for host, side in ((bastion, "client"), (w.hosts[name], "server")):
            run.sessions(
                host,
                side,
                client_ip=bastion.ip,
                client_port=run.rng.randrange(32768, 61000),
                server_ip=w.hosts[name].ip,
                server_port=22,
                protocol=6,
                start=t,
                end=t + 59,
                c_packets=80,
                c_bytes=9000,
                c_flags=SYN_FIN,
                s_packets=90,
                s_bytes=21000,
                s_flags=SYNACK_FIN,
                action="ACCEPT",
                internet=False,
                tag=tag,
            )
    return Background(
        "admin-ssh", "vpc_flow", "admins SSH to the bastion (one 30-minute session) and on to two app servers"
    )


def trusted_threat_ip(run: Run) -> Background:
    """The auditor's address is on both lists; its HTTPS to web-1 must raise nothing."""
    w, host = run.world, run.world.hosts["web-1"]
    cols = _https(run, 12)
    run.sessions(
        host,
        "server",
        client_ip=w.ips["trusted_threat"],
        server_ip=host.ip,
        server_port=443,
        internet=True,
        tag="background:trusted-threat-ip",
        **cols,
    )
    return Background(
        "trusted-threat-ip",
        "vpc_flow+cloudtrail",
        "an address on the threat AND trusted lists browses web-1 and calls IAM (trusted wins)",
    )


# --- Route 53 Resolver ----------------------------------------------------------------------------

_THIRD_PARTY: Final = (
    "api.github.com",
    "github.com",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "security.ubuntu.com",
    "archive.ubuntu.com",
    "ntp.ubuntu.com",
    "www.google.com",
    "hooks.slack.com",
    "api.datadoghq.com",
    "login.microsoftonline.com",
    "sentry.io",
    "o450.ingest.sentry.io",
    "api.stripe.com",
)
_AWS_ENDPOINTS: Final = (
    "sts.us-east-1.amazonaws.com",
    "s3.us-east-1.amazonaws.com",
    "ec2.us-east-1.amazonaws.com",
    "ssm.us-east-1.amazonaws.com",
    "ec2messages.us-east-1.amazonaws.com",
    "ssmmessages.us-east-1.amazonaws.com",
    "logs.us-east-1.amazonaws.com",
    "monitoring.us-east-1.amazonaws.com",
    "secretsmanager.us-east-1.amazonaws.com",
    "kms.us-east-1.amazonaws.com",
    "sqs.us-east-1.amazonaws.com",
    "dynamodb.us-east-1.amazonaws.com",
    "ecr.us-east-1.amazonaws.com",
    "api.ecr.us-east-1.amazonaws.com",
    "amazonlinux-2-repos-us-east-1.s3.dualstack.us-east-1.amazonaws.com",
)
_LOWER: Final = "abcdefghijklmnopqrstuvwxyz0123456789"


def _name_pool(run: Run) -> pl.DataFrame:
    """Every name the fleet resolves, with its answer, and how often it is asked."""
    r = run.rng

    def ips(first: tuple[int, ...], k: int) -> list[str]:
        return [
            f"{r.choice(first)}.{r.randrange(256)}.{r.randrange(256)}.{r.randrange(1, 255)}" for _ in range(k)
        ]

    rows: list[tuple[str, str, str, str, float]] = []
    for name in _AWS_ENDPOINTS:
        rows.append((name, "A", "NOERROR", answers_json(ips((52, 54, 3), 1), "A"), 30.0))
    for name in _THIRD_PARTY:
        rows.append((name, "A", "NOERROR", answers_json(ips((140, 151, 104, 185), 2), "A"), 8.0))
        rows.append((name, "AAAA", "NOERROR", "[]", 2.0))
    for _ in range(400):
        name = "d" + "".join(r.choices(_LOWER, k=13)) + ".cloudfront.net"
        rows.append((name, "A", "NOERROR", answers_json(ips((13, 18, 108), 4), "A"), 1.0))
    for _ in range(150):
        bucket = "-".join("".join(r.choices(_LOWER[:26], k=r.randrange(4, 9))) for _ in range(2))
        name = f"{bucket}-{r.randrange(10**11, 10**12)}.s3.us-east-1.amazonaws.com"
        rows.append(
            (name, "A", "NOERROR", answers_json(ips((52, 3), 1), "A", ("s3-w.us-east-1.amazonaws.com",)), 1.0)
        )
    for _ in range(60):
        name = "".join(r.choices(_LOWER, k=10)) + ".execute-api.us-east-1.amazonaws.com"
        rows.append((name, "A", "NOERROR", answers_json(ips((18, 54), 2), "A"), 1.0))
    for _ in range(20):
        name = (
            f"internal-app-{r.randrange(100, 999)}-{r.randrange(10**9, 10**10)}.us-east-1.elb.amazonaws.com"
        )
        rows.append((name, "A", "NOERROR", answers_json([f"10.0.1.{r.randrange(100, 102)}"], "A"), 3.0))
    for name in ("api.github.com.ec2.internal", "pypi.org.ec2.internal", "metadata.google.internal"):
        rows.append((name, "A", "NXDOMAIN", "[]", 2.0))
    for ip in run.world.internal_fleet[:30]:
        a, b, c, d = ip.split(".")
        rows.append(
            (
                f"{d}.{c}.{b}.{a}.in-addr.arpa",
                "PTR",
                "NOERROR",
                answers_json([f"ip-{a}-{b}-{c}-{d}.ec2.internal."], "PTR"),
                0.5,
            )
        )
    frame = pl.DataFrame(
        rows, schema=["query_name", "query_type", "rcode", "answers", "weight"], orient="row"
    )
    return frame.with_columns(pl.col("query_name") + ".")


def resolver_queries(run: Run) -> Background:
    w, tag = run.world, "background:resolver-queries"
    pool = _name_pool(run)
    hosts = [h for h in w.hosts.values() if h.instance_id is not None]
    n = _n(run, 24000)
    picks = run.vec.choice(arange(0, pool.height), n, pool["weight"])
    who = run.vec.integers(0, len(hosts), n)
    chosen = pool.select(pl.all().gather(picks))
    run.dns.append(
        queries(
            time=run.times(n, run.start, _span(run)),
            query_name=chosen["query_name"],
            query_type=chosen["query_type"],
            rcode=chosen["rcode"],
            answers=chosen["answers"],
            srcaddr=pl.Series([h.ip for h in hosts]).gather(who),
            srcport=run.ephemeral(n),
            transport=where(run.vec.random(n) < 0.97, "UDP", "TCP"),
            instance_id=pl.Series([h.instance_id for h in hosts]).gather(who),
            tag=tag,
        )
    )
    host = w.hosts["app-1"]
    run.queries(
        host,
        time=run.start + 4000 + arange(4) * 300,
        query_name=f"cdn.{NEAR_MISS_DOMAIN}.",
        query_type="A",
        rcode="NOERROR",
        answers=answers_json(["93.184.215.14"], "A"),
        srcport=run.ephemeral(4),
        tag="background:resolver-queries/near-miss-domain",
    )
    return Background(
        "resolver-queries",
        "dns",
        "AWS endpoints, random CloudFront/S3/API Gateway names, package "
        f"mirrors, PTR and NXDOMAIN; cdn.{NEAR_MISS_DOMAIN} (not a subdomain of the listed name)",
    )


# --- CloudTrail -----------------------------------------------------------------------------------

# (eventSource, eventName, readOnly)
_CI_CALLS: Final = (
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("ec2.amazonaws.com", "DescribeSecurityGroups", True),
    ("ec2.amazonaws.com", "DescribeSubnets", True),
    ("ec2.amazonaws.com", "DescribeVpcs", True),
    ("cloudformation.amazonaws.com", "DescribeStacks", True),
    ("cloudformation.amazonaws.com", "DescribeStackEvents", True),
    ("ecr.amazonaws.com", "GetAuthorizationToken", True),
    ("ecr.amazonaws.com", "PutImage", False),
    ("ecr.amazonaws.com", "BatchCheckLayerAvailability", True),
    ("lambda.amazonaws.com", "ListFunctions20150331", True),
    ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", False),
    ("ssm.amazonaws.com", "GetParameter", True),
    ("ssm.amazonaws.com", "PutParameter", False),
    ("iam.amazonaws.com", "ListRoles", True),
    ("iam.amazonaws.com", "GetRole", True),
    ("s3.amazonaws.com", "ListBuckets", True),
    ("sts.amazonaws.com", "GetCallerIdentity", True),
    ("ec2.amazonaws.com", "CreateTags", False),
)
_CONSOLE_CALLS: Final = (
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("ec2.amazonaws.com", "DescribeInstanceStatus", True),
    ("cloudwatch.amazonaws.com", "GetMetricData", True),
    ("s3.amazonaws.com", "ListBuckets", True),
    ("iam.amazonaws.com", "ListUsers", True),
    ("iam.amazonaws.com", "GetAccountSummary", True),
    ("health.amazonaws.com", "DescribeEventAggregates", True),
    ("ce.amazonaws.com", "GetCostAndUsage", True),
    ("cloudtrail.amazonaws.com", "LookupEvents", True),
    ("logs.amazonaws.com", "DescribeLogGroups", True),
)
_CONFIG_CALLS: Final = (
    ("s3.amazonaws.com", "GetBucketAcl", True),
    ("s3.amazonaws.com", "GetBucketPolicy", True),
    ("ec2.amazonaws.com", "DescribeInstances", True),
    ("iam.amazonaws.com", "ListUsers", True),
    ("iam.amazonaws.com", "GetAccountAuthorizationDetails", True),
    ("cloudtrail.amazonaws.com", "DescribeTrails", True),
    ("cloudtrail.amazonaws.com", "GetTrailStatus", True),
    ("kms.amazonaws.com", "ListKeys", True),
)
_APP_CALLS: Final = (
    ("kms.amazonaws.com", "Decrypt", True),
    ("ssm.amazonaws.com", "GetParameters", True),
    ("secretsmanager.amazonaws.com", "GetSecretValue", True),
    ("sqs.amazonaws.com", "ListQueues", True),
    ("sts.amazonaws.com", "GetCallerIdentity", True),
)


def _request(source: str, name: str, run: Run) -> dict[str, Any] | None:
    """Small but real-shaped request parameters for the calls above."""
    r = run.rng
    if name == "DescribeInstances":
        return {
            "instancesSet": {},
            "filterSet": {"items": [{"name": "tag:env", "valueSet": {"items": [{"value": "prod"}]}}]},
        }
    if name in ("GetParameter", "PutParameter"):
        return {
            "name": f"/prod/app/{r.choice(('db_host', 'feature_flags', 'api_url'))}",
            "withDecryption": False,
        }
    if name == "GetRole":
        return {"roleName": r.choice(("app-instance", "ci-deployer", "lambda-processor"))}
    if name == "DescribeStacks":
        return {"stackName": r.choice(("web-prod", "network", "data-pipeline"))}
    if name == "GetSecretValue":
        return {"secretId": f"arn:aws:secretsmanager:us-east-1:{run.world.account_id}:secret:prod/db-AbCdEf"}
    if source == "s3.amazonaws.com" and name.startswith("GetBucket"):
        return {
            "bucketName": r.choice(("acme-prod-assets", "acme-backups", "acme-logs")),
            "Host": "s3.amazonaws.com",
        }
    if name == "ListBuckets":
        return {"Host": "s3.us-east-1.amazonaws.com"}
    return None


def _assumed(run: Run, name: str, session: str, *, ec2: bool = False) -> Role:
    return Role(name, run.world.ids.key("AROA"), session, run.world.ids.key("ASIA"), run.start - 600, ec2)


def ci_role(run: Run) -> Background:
    w, tag = run.world, "background:ci-role"
    role = _assumed(run, "ci-deployer", "GitHubActions-deploy")
    nat = w.ips["office2"]  # the CI runners' NAT gateway shares the second office's egress block
    ident = role.identity(w)
    n = _n(run, 9000)
    times = run.times(n, run.start, _span(run)).to_list()
    uas = (TERRAFORM_UA, BOTO3_UA, UBUNTU_CLI_UA.format(command="cloudformation.deploy"))
    for t in times:
        source, name, ro = run.rng.choice(_CI_CALLS)
        region = (
            w.other_region
            if run.rng.random() < 0.2 and source not in ("iam.amazonaws.com", "sts.amazonaws.com")
            else None
        )
        run.trail.call(
            float(t),
            ident,
            source,
            name,
            tag=tag,
            ip=nat,
            ua=run.rng.choice(uas),
            read_only=ro,
            region=region,
            request=_request(source, name, run),
        )
    return Background(
        "ci-role", "cloudtrail", "a CI role makes steady Describe/List/Put calls in two regions"
    )


def aws_services(run: Run) -> Background:
    w, tag = run.world, "background:aws-services"
    n = _n(run, 3000)
    for t in run.times(n, run.start, _span(run)).to_list():
        service = "ec2.amazonaws.com" if run.rng.random() < 0.4 else "lambda.amazonaws.com"
        function = run.rng.choice(("processor", "thumbnailer"))
        role = "app-instance" if service.startswith("ec2") else f"lambda-{function}"
        # EC2 names the session after the instance, Lambda after the function
        session = w.hosts["app-1"].instance_id if service.startswith("ec2") else function
        run.trail.service_call(
            float(t),
            service,
            "sts.amazonaws.com",
            "AssumeRole",
            tag=tag,
            request={"roleArn": w.arn("role", role), "roleSessionName": session},
            response={
                "credentials": {
                    "accessKeyId": w.ids.key("ASIA"),
                    "sessionToken": w.ids.token(96),
                    "expiration": "Nov 1, 2026, 6:00:00 AM",
                }
            },
        )
    # AWS Config's service-linked role: AssumedRole identity, invokedBy and source IP are the service
    config = _assumed(run, "AWSServiceRoleForConfig", "AWSConfig-Describe")
    ident = config.identity(w) | {"invokedBy": "config.amazonaws.com"}
    for t in run.times(_n(run, 2000), run.start, _span(run)).to_list():
        source, name, ro = run.rng.choice(_CONFIG_CALLS)
        run.trail.call(
            float(t),
            ident,
            source,
            name,
            tag=tag,
            ip="config.amazonaws.com",
            ua="config.amazonaws.com",
            read_only=ro,
            request=_request(source, name, run),
        )
    return Background(
        "aws-services",
        "cloudtrail",
        "EC2 and Lambda assume roles (AWSService identity, "
        "service host name as source IP); AWS Config sweeps as its service-linked role",
    )


def instance_roles(run: Run) -> Background:
    """App instances use their own role sessions from inside AWS: through the NAT gateway's
    Elastic IP (an EC2 address of us-east-1) or, for app-2's Secrets Manager calls, the
    account's own interface endpoint (private source IP)."""
    w, tag = run.world, "background:instance-roles"
    nat = w.ips["nat_gateway"]
    endpoint = ("vpce-" + w.ids.hex(17), w.account_id)
    for name in ("app-1", "app-2"):
        host = w.hosts[name]
        role = _assumed(run, "app-instance", str(host.instance_id), ec2=True)
        for t in run.times(_n(run, 1500), run.start, _span(run)).to_list():
            source, call, ro = run.rng.choice(_APP_CALLS)
            private = name == "app-2" and source == "secretsmanager.amazonaws.com"
            run.trail.call(
                float(t),
                role.identity(w),
                source,
                call,
                tag=tag,
                ip=host.ip if private else nat,
                ua=BOTO3_UA,
                read_only=ro,
                request=_request(source, call, run),
                vpc_endpoint=endpoint if private else None,
            )
    return Background(
        "instance-roles",
        "cloudtrail",
        "instances' and an ECS task's role sessions read parameters, secrets and keys from AWS addresses (NAT gateway, "
        "web-3's public IP, the account's own VPC endpoint)",
    )


def s3_data_events(run: Run) -> Background:
    w, tag = run.world, "background:s3-data-events"
    backup_role = _assumed(run, "backup-writer", str(w.hosts["backup"].instance_id), ec2=True)
    app_role = _assumed(run, "app-instance", str(w.hosts["app-1"].instance_id), ec2=True)
    endpoint = ("vpce-" + w.ids.hex(17), w.account_id)
    for t in run.times(_n(run, 5000), run.start, _span(run)).to_list():
        put = run.rng.random() < 0.6
        bucket = "acme-backups" if put else "acme-prod-assets"
        key = (
            f"db/{int(t) // 3600}/part-{run.rng.randrange(100000):05d}.gz"
            if put
            else f"static/img/{run.rng.randrange(5000)}.webp"
        )
        object_call(
            run.trail,
            float(t),
            (backup_role if put else app_role).identity(w),
            "PutObject" if put else "GetObject",
            bucket,
            key,
            tag=tag,
            ip=w.hosts["backup" if put else "app-1"].ip,
            ua="aws-cli/2.15.0" if put else BOTO3_UA,
            size=run.rng.randrange(20_000, 8_000_000),
            vpc_endpoint=endpoint,
            version="1.10" if put else "1.09",
        )
    # the backup job lists what it wrote every ten minutes, to prune old parts
    for t in range(run.start + 420, run.end, 600):
        object_call(
            run.trail,
            float(t),
            backup_role.identity(w),
            "ListObjects",
            "acme-backups",
            None,
            tag=tag,
            ip=w.hosts["backup"].ip,
            ua="aws-cli/2.15.0 Python/3.11.6 Linux/6.1.109-118.189.amzn2023.x86_64 exe/x86_64.amzn.2023 prompt/off command/s3.ls",
            size=run.rng.randrange(3_000, 40_000),
            vpc_endpoint=endpoint,
            prefix="db/",
        )
    return Background(
        "s3-data-events",
        "cloudtrail",
        "backup writes and lists, app reads, through an S3 gateway endpoint of the account (private source IPs)",
    )


def console_users(run: Run) -> Background:
    w, tag = run.world, "background:console"
    for k, name in enumerate(("alice", "bob")):
        person = w.people[name]
        t0 = run.start + 300 + 2400 * k
        key = w.ids.key("ASIA")
        run.trail.console_login(t0, iam_user(w, person), person.ip, tag=tag, mfa=True)
        ident = console_user(w, person, key, t0)
        for t in run.times(_n(run, 300), t0 + 5, 3000).to_list():
            source, call, ro = run.rng.choice(_CONSOLE_CALLS)
            run.trail.call(
                float(t),
                ident,
                source,
                call,
                tag=tag,
                ip=person.ip,
                read_only=ro,
                ua=CONSOLE_UA if run.rng.random() < 0.5 else "AWS Internal",
                request=_request(source, call, run),
            )
    # root signs in to the console twice (a sign-in is not an API call)
    for t in (run.start + 450, run.start + 6000):
        run.trail.console_login(
            t, root(w, None), w.people["alice"].ip, tag="background:console/root-sign-in", mfa=True
        )
    # a developer from home with the Ubuntu CLI
    person = w.people["data-eng"]
    for t in run.times(_n(run, 200), run.start + 1000, 5000).to_list():
        source, call = run.rng.choice(
            (("athena.amazonaws.com", "StartQueryExecution"), ("glue.amazonaws.com", "GetTables"))
        )
        run.trail.call(
            float(t),
            iam_user(w, person),
            source,
            call,
            tag=tag,
            ip=person.ip,
            read_only=call == "GetTables",
            ua=UBUNTU_CLI_UA.format(command="athena.start-query-execution"),
        )
    return Background(
        "console",
        "cloudtrail",
        "two console users sign in and browse, root signs in to the "
        "console twice, a developer uses the CLI from home",
    )


def near_misses(run: Run) -> Background:
    w = run.world
    joe = w.people["intern-joe"]
    run.trail.call(
        run.start + 2200,
        iam_user(w, joe),
        "cloudtrail.amazonaws.com",
        "StopLogging",
        tag="background:near-misses/denied-stoplogging",
        ip=joe.ip,
        read_only=False,
        ua=UBUNTU_CLI_UA.format(command="cloudtrail.stop-logging"),
        request={"name": w.trail_arn},
        error=(
            "AccessDenied",
            f"User: {w.arn('user', joe.user_name)} is not authorized to perform: "
            f"cloudtrail:StopLogging on resource: {w.trail_arn} because no identity-based policy "
            "allows the cloudtrail:StopLogging action",
        ),
    )
    kim, ip = w.people["auditor-kim"], w.ips["trusted_threat"]
    for i, (source, name, ro) in enumerate(
        (
            ("iam.amazonaws.com", "ListUsers", True),
            ("iam.amazonaws.com", "GetAccountAuthorizationDetails", True),
            ("ec2.amazonaws.com", "DescribeInstances", True),
            ("iam.amazonaws.com", "TagUser", False),
        )
    ):
        run.trail.call(
            run.start + 3900 + 13 * i,
            iam_user(w, kim),
            source,
            name,
            tag="background:trusted-threat-ip/cloudtrail",
            ip=ip,
            read_only=ro,
            ua=BOTO3_UA,
            request={"userName": kim.user_name, "tags": [{"key": "audited", "value": "2026-11"}]}
            if name == "TagUser"
            else _request(source, name, run),
        )
    # the auditor also samples a bucket's objects and ACLs (S3 data events) from the same address
    for i, (name, key) in enumerate(
        (("ListObjects", None), ("GetObjectAcl", "static/index.html"), ("GetObject", "static/index.html"))
    ):
        object_call(
            run.trail,
            run.start + 3990 + 7 * i,
            iam_user(w, kim),
            name,
            "acme-prod-assets",
            key,
            tag="background:trusted-threat-ip/s3",
            ip=ip,
            ua=BOTO3_UA,
            size=run.rng.randrange(1_000, 30_000),
            prefix="static/",
        )
    return Background(
        "near-misses",
        "cloudtrail",
        "a denied StopLogging; recon, a write and S3 reads from an address on the threat list and the "
        "malicious feed but also trusted",
    )


FLOW: Final[tuple[Callable[[Run], Background], ...]] = (
    web_clients,
    health_checks,
    monitoring,
    ntp_and_dns,
    backup,
    outbound_https,
    internet_noise,
    admin_ssh,
    trusted_threat_ip,
    *BRUTE_FORCE_DOS,
    *INTEL_BACKGROUND,
    *PROBE_BACKGROUND,
)
DNS: Final[tuple[Callable[[Run], Background], ...]] = (
    resolver_queries,
    *DNS_SIGNATURE_BACKGROUND,
    *DNS_NAMES_BACKGROUND,
)
CLOUDTRAIL: Final[tuple[Callable[[Run], Background], ...]] = (
    ci_role,
    aws_services,
    instance_roles,
    s3_data_events,
    console_users,
    near_misses,
    *CONFIG,
)
ALL: Final = (*FLOW, *DNS, *CLOUDTRAIL)
