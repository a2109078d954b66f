"""Attacks in the last nine days of the month, each tagged with the finding it should raise.

Written as the attacks happen, not to cross a threshold: a developer's leaked access key used
at night from a VPS abroad with the attacker's own tooling (discovery, then persistence,
privilege escalation and defence evasion, then ransom notes written to a bucket); an ops
engineer's key stolen and used for credential access, exfiltration through snapshots and
replication, impact, and wiping the backups; a contractor's key used from Brazil to mint
federation tokens and sessions, enumerate a bucket and make HR documents public; a phished
console password used from Singapore minutes after its owner signed in in London; an app
server compromised and its role syncing the data lake; and on the network side a Log4Shell
callback, a spam burst from a web server, DNS, DoH and DoT to public resolvers, and a
database dump uploaded to a new host.

Every record of a scenario is tagged ``scenario:<name>``; its look-alikes inside the baseline
(tagged ``twin:<name>`` by the benign generators) are listed by :func:`twins`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from keibi.tester.history_benign import CHROME_WIN, CLI_LINUX, SAFARI, console_login
from keibi.tester.history_flows import GB, MB, row
from keibi.tester.history_run import History, flow_plan, objects
from keibi.tester.history_trail import calls, dumps, user_identity
from keibi.tester.history_world import GLOBAL_REGION, Person
from keibi.tester.manifest import Scenario

ATTACKER_BOTO3: Final = (
    "Boto3/1.34.162 md/Botocore#1.34.162 ua/2.0 os/linux#6.1.0-25-cloud-amd64 md/arch#x86_64 lang/python#3.11.2 "
    "md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.162"
)
ATTACKER_GO: Final = "aws-sdk-go/1.55.5 (go1.22.6; linux; amd64)"
ATTACKER_CLI_V1: Final = "aws-cli/1.29.62 Python/3.10.12 Linux/5.15.0-119-generic botocore/1.31.62"
IAM_TYPES: Final = {
    "discovery": "Discovery:IAMUser/AnomalousBehavior",
    "persistence": "Persistence:IAMUser/AnomalousBehavior",
    "privesc": "PrivilegeEscalation:IAMUser/AnomalousBehavior",
    "evasion": "DefenseEvasion:IAMUser/AnomalousBehavior",
    "credentials": "CredentialAccess:IAMUser/AnomalousBehavior",
    "exfiltration": "Exfiltration:IAMUser/AnomalousBehavior",
    "impact": "Impact:IAMUser/AnomalousBehavior",
    "initial-access": "InitialAccess:IAMUser/AnomalousBehavior",
}
Step = tuple[str, str, dict[str, object] | None, str | None]  # source, name, request, error


def _iam_scenario(name: str, kind: str, person: Person, description: str) -> Scenario:
    return Scenario(
        name=name,
        finding_type=IAM_TYPES[kind],
        source="cloudtrail",
        resource_type="AccessKey",
        resource_id=person.access_key,
        key={
            "access_key_id": person.access_key,
            "principal_id": person.principal_id,
            "user_name": person.name,
        },
        description=description,
    )


def _steps(
    h: History, t0: int, person: Person, steps: Sequence[Step], *, tag: str, ip: str, ua: str, gap: int = 11
) -> int:
    """Record ``steps`` with ``person``'s long-term key, ``gap`` seconds apart (give or take)."""
    who = h.who(f"user:{person.name}", user_identity(h.world, person.name, person.principal_id))
    times, t = [], t0
    for _ in steps:
        times.append(t)
        t += h.rng.randrange(max(1, gap // 2), gap * 2)
    h.add(
        calls(
            t=times, tag=tag, who=who, key=person.access_key, source=[s[0] for s in steps], name=[s[1] for s in steps],
            request=[None if s[2] is None else dumps(s[2]) for s in steps], error=[s[3] for s in steps], ip=ip, ua=ua,
            read_only=[s[1].startswith(("Describe", "List", "Get")) for s in steps],
            region=[GLOBAL_REGION if s[1] == "DescribeInstances" and i % 3 == 1 else None for i, s in enumerate(steps)],
        )
    )  # fmt: skip
    return t


IAM, EC2, S3 = "iam.amazonaws.com", "ec2.amazonaws.com", "s3.amazonaws.com"
DENIED: Final = "AccessDenied"


def leaked_key(h: History) -> list[Scenario]:
    """Campaign A, day 22 at 02:40 London: a developer's key, leaked in a public repository,
    used from a Romanian VPS with boto3: recon, a backdoor user with admin rights, trail and
    flow logs switched off, then ransom notes written over the reports bucket."""
    w = h.world
    p = w.people["priya.shah"]
    ip, ua = w.ips["vps_ro"], ATTACKER_BOTO3
    t = h.local(22, 2.67)
    discovery: list[Step] = [
        ("sts.amazonaws.com", "GetCallerIdentity", None, None),
        (IAM, "ListUsers", None, None),
        (IAM, "ListRoles", None, None),
        (IAM, "ListGroups", None, None),
        (IAM, "ListAttachedUserPolicies", {"userName": p.name}, None),
        (IAM, "ListUserPolicies", {"userName": p.name}, None),
        (IAM, "GetAccountAuthorizationDetails", None, DENIED),
        (EC2, "DescribeInstances", None, None),
        (EC2, "DescribeInstances", None, None),
        (EC2, "DescribeSecurityGroups", None, None),
        (S3, "ListBuckets", None, None),
        ("secretsmanager.amazonaws.com", "ListSecrets", None, DENIED),
        ("rds.amazonaws.com", "DescribeDBInstances", None, None),
        ("lambda.amazonaws.com", "ListFunctions20150331", None, None),
        (EC2, "DescribeInstances", None, None),
        ("cloudtrail.amazonaws.com", "DescribeTrails", None, None),
    ]
    t = _steps(h, t, p, discovery, tag="scenario:leaked-key-discovery", ip=ip, ua=ua, gap=6)
    backdoor = "svc-metrics-bk"
    persistence: list[Step] = [
        (IAM, "CreateUser", {"userName": backdoor}, None),
        (IAM, "CreateAccessKey", {"userName": backdoor}, None),
        (IAM, "CreateLoginProfile", {"userName": backdoor, "passwordResetRequired": False}, None),
    ]
    t = _steps(h, t + 90, p, persistence, tag="scenario:leaked-key-persistence", ip=ip, ua=ua)
    privesc: list[Step] = [
        (IAM, "AttachUserPolicy", {"userName": backdoor, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}, None),
        (IAM, "PutUserPolicy", {"userName": p.name, "policyName": "dev-extra", "policyDocument": "{\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"}]}"}, None),
        (IAM, "AddUserToGroup", {"groupName": "platform-admins", "userName": backdoor}, None),
    ]  # fmt: skip
    t = _steps(h, t + 40, p, privesc, tag="scenario:leaked-key-privesc", ip=ip, ua=ua)
    trail = f"arn:aws:cloudtrail:eu-west-2:{w.account_id}:trail/org-trail"
    evasion: list[Step] = [
        ("cloudtrail.amazonaws.com", "StopLogging", {"name": trail}, None),
        (
            EC2,
            "DeleteFlowLogs",
            {"DeleteFlowLogsRequest": {"FlowLogId": {"tag": 1, "content": w.flow_log_id}}},
            None,
        ),
        ("logs.amazonaws.com", "DeleteLogGroup", {"logGroupName": "/aws/vpc/flow-logs"}, None),
        (
            "monitoring.amazonaws.com",
            "DisableAlarmActions",
            {"alarmNames": ["root-login", "iam-changes"]},
            None,
        ),
    ]
    t = _steps(h, t + 60, p, evasion, tag="scenario:leaked-key-evasion", ip=ip, ua=ua)
    who = h.who(f"user:{p.name}", user_identity(w, p.name, p.principal_id))
    n = 420
    start = t + 120
    objects(
        h, [start + int(i * 2.1) for i in range(n)], who, "PutObject", "acme-reports",
        [f"finance/daily/report-{i:05d}.csv.locked" for i in range(n - 1)] + ["README_RESTORE_FILES.txt"],
        columns={"key": p.access_key, "ip": ip, "ua": ua, "tag": "scenario:s3-ransom-notes"}, size=[int(h.rng.uniform(50_000, 900_000)) for _ in range(n)],
    )  # fmt: skip
    out = [
        _iam_scenario("leaked-key-discovery", "discovery", p, "IAM, EC2 (in two regions), S3, RDS, Lambda recon from a Romanian VPS with boto3"),
        _iam_scenario("leaked-key-persistence", "persistence", p, "a backdoor user with an access key and a console password"),
        _iam_scenario("leaked-key-privesc", "privesc", p, "AdministratorAccess for the backdoor, an inline * policy, admin group"),
        _iam_scenario("leaked-key-evasion", "evasion", p, "StopLogging, DeleteFlowLogs, DeleteLogGroup, DisableAlarmActions"),
        _s3("s3-ransom-notes", "Impact:S3/AnomalousBehavior.Write", "acme-reports", p, "420 encrypted copies and a ransom note written to the reports bucket by a key that never wrote there"),
    ]  # fmt: skip
    return out


def _s3(
    name: str, type_: str, bucket: str, p: Person | None, description: str, principal: str = ""
) -> Scenario:
    key = {"bucket": bucket}
    if p is not None:
        key |= {"principal_id": p.principal_id, "access_key_id": p.access_key, "user_name": p.name}
    elif principal:
        key |= {"principal_id": principal}
    return Scenario(name, type_, "cloudtrail", "S3Bucket", bucket, key, description)


def stolen_ops_key(h: History) -> list[Scenario]:
    """Campaign B, day 25 at 14:20 London: an ops engineer's key used from a Bulgarian VPS by a
    Go tool: secrets and Windows passwords, a database volume snapshot shared out and a bucket
    replicated out, a bucket policy and security groups changed, then the backups wiped."""
    w = h.world
    p = w.people["emma.clarke"]
    ip, ua = w.ips["vps_bg"], ATTACKER_GO
    t = h.local(25, 14.33)
    secrets = ("prod/app/db-credentials", "prod/worker/api-keys", "prod/payments/stripe", "prod/ldap/bind", "prod/smtp/relay", "prod/github/deploy-key")  # fmt: skip
    credentials: list[Step] = [("secretsmanager.amazonaws.com", "ListSecrets", None, None)]
    credentials += [
        ("secretsmanager.amazonaws.com", "GetSecretValue", {"secretId": s}, None) for s in secrets
    ]
    credentials += [
        (EC2, "GetPasswordData", {"instanceId": w.slot("legacy-reports", 25).instance_id}, None),
        (
            "ssm.amazonaws.com",
            "GetParametersByPath",
            {"path": "/prod/", "recursive": True, "withDecryption": True},
            None,
        ),
    ]
    t = _steps(h, t, p, credentials, tag="scenario:stolen-key-credentials", ip=ip, ua=ua, gap=5)
    attacker = "418295271193"
    volume, snap = f"vol-{w.ids.hex(17)}", f"snap-{w.ids.hex(17)}"
    exfil: list[Step] = [
        (EC2, "CreateSnapshot", {"volumeId": volume, "description": "maint"}, None),
        (EC2, "ModifySnapshotAttribute", {"snapshotId": snap, "createVolumePermission": {"add": {"items": [{"userId": attacker}]}}, "attributeType": "CREATE_VOLUME_PERMISSION"}, None),
        (S3, "PutBucketReplication", {"bucketName": "acme-data-lake", "replication": "", "ReplicationConfiguration": {"Role": w.arn("role", "s3-replication"), "Rule": {"Status": "Enabled", "Destination": {"Bucket": "arn:aws:s3:::dl-mirror-7731", "Account": attacker}}}}, None),
    ]  # fmt: skip
    t = _steps(h, t + 200, p, exfil, tag="scenario:stolen-key-exfiltration", ip=ip, ua=ua, gap=20)
    groups = [f"sg-{w.ids.hex(17)}" for _ in range(2)]
    deletes: list[Step] = [(EC2, "DeleteSecurityGroup", {"groupId": g}, None) for g in groups]
    impact: list[Step] = [
        (S3, "PutBucketPolicy", {"bucketName": "acme-backups", "policy": {"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject"}]}}, None),
        *deletes,
        (IAM, "UpdateLoginProfile", {"userName": "tom.baker"}, None),
    ]  # fmt: skip
    t = _steps(h, t + 120, p, impact, tag="scenario:stolen-key-impact", ip=ip, ua=ua, gap=15)
    who = h.who(f"user:{p.name}", user_identity(w, p.name, p.principal_id))
    common = {"key": p.access_key, "ip": ip, "ua": ua, "tag": "scenario:s3-wipe-backups"}
    objects(
        h,
        [t + 30 + 5 * i for i in range(6)],
        who,
        "ListObjects",
        "acme-backups",
        [None] * 6,
        prefix="pg/nightly/",
        size=12_000,
        columns=common,
    )
    n = 1800
    objects(h, [t + 80 + i // 6 for i in range(n)], who, "DeleteObject", "acme-backups", [f"pg/nightly/part-{i:05d}.dump.gz" for i in range(n)], columns=common)  # fmt: skip
    return [
        _iam_scenario("stolen-key-credentials", "credentials", p, "six production secrets, a Windows password and decrypted parameters from a Bulgarian VPS"),
        _iam_scenario("stolen-key-exfiltration", "exfiltration", p, "a database volume snapshot shared with an outside account; the data lake replicated to an outside bucket"),
        _iam_scenario("stolen-key-impact", "impact", p, "a deny-all bucket policy on the backups, security groups deleted, a colleague's password reset"),
        _s3("s3-wipe-backups", "Impact:S3/AnomalousBehavior.Delete", "acme-backups", p, "1,800 backup objects deleted in five minutes"),
    ]  # fmt: skip


def contractor_key(h: History) -> list[Scenario]:
    """Campaign C, day 27 at 09:30 London: a contractor's key used from Brazil with an old CLI:
    a federation token and sessions on instances, a bucket enumerated, HR documents made public."""
    w = h.world
    p = w.people["li.wei"]
    ip, ua = w.ips["vps_br"], ATTACKER_CLI_V1
    t = h.local(27, 9.5)
    initial: list[Step] = [
        ("sts.amazonaws.com", "GetCallerIdentity", None, None),
        ("sts.amazonaws.com", "GetFederationToken", {"name": "li", "durationSeconds": 129600, "policyArns": [{"arn": "arn:aws:iam::aws:policy/AdministratorAccess"}]}, None),
        ("ssm.amazonaws.com", "StartSession", {"target": w.slot("app-1", 27).instance_id}, None),
        ("ssm.amazonaws.com", "StartSession", {"target": w.slot("db-1", 27).instance_id}, DENIED),
        ("ecr.amazonaws.com", "GetAuthorizationToken", None, None),
    ]  # fmt: skip
    t = _steps(h, t, p, initial, tag="scenario:contractor-initial-access", ip=ip, ua=ua, gap=25)
    who = h.who(f"user:{p.name}", user_identity(w, p.name, p.principal_id))
    common = {"key": p.access_key, "ip": ip, "ua": ua}
    prefixes = [f"incoming/2026/{m:02d}/" for m in range(1, 11)] + [
        f"processed/{k}/" for k in ("avatars", "documents", "invoices", "exports")
    ]
    n = 260
    objects(
        h, [t + 60 + 3 * i for i in range(n)], who, "ListObjects", "acme-uploads", [None] * n,
        prefix=prefixes[0], size=30_000, columns={**common, "tag": "scenario:s3-enumeration"},
    )  # fmt: skip
    t += 60 + 3 * n + 300
    n = 45
    objects(
        h, [t + 8 * i for i in range(n)], who, "PutObjectAcl", "acme-hr-docs", [f"contracts/{i:05d}.pdf" for i in range(n)],
        columns={**common, "tag": "scenario:s3-public-hr-docs"},
    )  # fmt: skip
    return [
        _iam_scenario("contractor-initial-access", "initial-access", p, "GetFederationToken with AdministratorAccess, Session Manager sessions, an ECR token, from Brazil"),
        _s3("s3-enumeration", "Discovery:S3/AnomalousBehavior", "acme-uploads", p, "260 listings of a bucket this key never listed"),
        _s3("s3-public-hr-docs", "Impact:S3/AnomalousBehavior.Permission", "acme-hr-docs", p, "45 HR contracts made public-read"),
    ]  # fmt: skip


def impossible_travel(h: History) -> list[Scenario]:
    """Day 22, 08:50 London: a finance user signs in at the office; eight minutes later her
    phished password and MFA code sign in from Singapore, and the session browses billing."""
    w = h.world
    p = w.people["daniel.evans"]
    t = h.local(22, 8.83)
    console_login(
        h, t, p.name, w.office_ips["london"][0], CHROME_WIN, tag="scenario:console-impossible-travel"
    )
    console_login(h, t + 480, p.name, w.ips["vps_sg"], SAFARI, tag="scenario:console-impossible-travel")
    who = h.who(f"console:{p.name}", user_identity(w, p.name, p.principal_id, console=True))
    names = ["GetCostAndUsage", "DescribeBudgets", "GetCostAndUsage", "DescribeReportDefinitions"]
    sources = ["ce.amazonaws.com", "budgets.amazonaws.com", "ce.amazonaws.com", "cur.amazonaws.com"]
    h.add(
        calls(t=[t + 540 + 30 * i for i in range(4)], tag="scenario:console-impossible-travel", who=who, key=w.ids.key("ASIA"),
              since=t + 480, source=sources, name=names, ip=w.ips["vps_sg"], ua=SAFARI, read_only=True)
    )  # fmt: skip
    twin = w.people["oliver.hughes"]
    t = h.local(22, 9.2)
    console_login(h, t, twin.name, w.office_ips["london"][1], CHROME_WIN, tag="twin:console-office-then-home")
    console_login(h, t + 1500, twin.name, twin.home, CHROME_WIN, tag="twin:console-office-then-home")
    return [
        Scenario(
            "console-impossible-travel",
            "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
            "cloudtrail",
            "AccessKey",
            p.principal_id,
            {"principal_id": p.principal_id, "user_name": p.name},
            "console sign-ins from London and Singapore eight minutes apart",
        )
    ]


def compromised_app(h: History) -> list[Scenario]:
    """Day 23, 03:10 London: an attacker with a shell on app-2 syncs the data lake with the
    instance's own role, from the instance itself."""
    w = h.world
    inst = w.slot("app-2", 23)
    who = f"role:app-instance/{inst.instance_id}"
    ua = CLI_LINUX.format(v="2.18.4", c="s3.sync").replace("md/distrib#ubuntu.24", "md/distrib#amzn.2023")
    t = h.local(23, 3.17)
    common = {"key": w.ids.key("ASIA"), "since": t - 1200, "ip": inst.ip, "ua": ua, "tag": "scenario:s3-data-lake-sync", "vpce": "vpce-" + w.ids.hex(17)}  # fmt: skip
    objects(
        h,
        [t + 2 * i for i in range(40)],
        who,
        "ListObjects",
        "acme-data-lake",
        [None] * 40,
        prefix="curated/",
        size=40_000,
        columns=common,
    )
    n = 5200
    objects(
        h, [t + 90 + int(i * 0.35) for i in range(n)], who, "GetObject", "acme-data-lake",
        [f"curated/events/dt=2026-{1 + i % 10:02d}/part-{i:05d}.parquet" for i in range(n)],
        size=[int(h.rng.uniform(2e6, 6e7)) for _ in range(n)], columns=common,
    )  # fmt: skip
    principal = f"{w.roles['app-instance']}:{inst.instance_id}"
    return [
        _s3("s3-data-lake-sync", "Exfiltration:S3/AnomalousBehavior", "acme-data-lake", None,
            "5,200 GetObject in half an hour by an app server's role that never read the data lake", principal=principal)
    ]  # fmt: skip


def _flow(name: str, type_: str, inst_id: str, description: str, **key: str) -> Scenario:
    return Scenario(
        name, type_, "vpc_flow", "Instance", inst_id, {"instance_id": inst_id, **key}, description
    )


def network(h: History) -> list[Scenario]:
    """The network side, days 22 to 27."""
    w, rng = h.world, h.rng
    rows: list[dict[str, object]] = []
    out = []
    # Log4Shell: the JNDI lookup calls back over LDAP on 1389, fetches a class over HTTP, opens a shell
    app3 = w.slot("app-3", 22)
    t = h.local(22, 11.23)
    cb = w.ips["ldap_callback"]
    rows += [
        row(app3, "client", cb, 1389, t, 2, 600, 1_800, "scenario:log4shell-callback", internet=True)
        | {"length": 20},
        row(app3, "client", cb, 8888, t + 25, 1, 900, 48_000, "scenario:log4shell-callback", internet=True)
        | {"length": 10},
        row(app3, "client", cb, 4444, t + 60, 1, 90_000, 30_000, "scenario:log4shell-callback", internet=True)
        | {"length": 10},
    ]
    out.append(
        _flow(
            "log4shell-callback",
            "Behavior:EC2/NetworkPortUnusual",
            app3.instance_id,
            "app-3 calls back to an LDAP server on 1389, then 8888 and 4444",
            remote_ip=cb,
        )
    )
    # spam: a compromised web server sends bursts to hundreds of MX hosts
    web2 = w.slot("web-2", 23)
    mx = [f"{rng.choice((64, 67, 74, 98, 142, 173, 199, 203, 207, 216))}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(350)]  # fmt: skip
    for burst in range(12):
        start = h.local(23, 19.0) + burst * 600
        for remote in rng.sample(mx, 70):
            rows.append(
                row(web2, "client", remote, 25, start, 1, 14_000, 1_100, "scenario:spam-burst", internet=True)
                | {"length": 120}
            )
    out.append(
        _flow(
            "spam-burst",
            "Backdoor:EC2/Spambot",
            web2.instance_id,
            "web-2 sends 840 SMTP connections to 350 MX hosts in two hours",
        )
    )
    # a dropper on worker-1 resolves through Google's public resolver
    worker1 = w.slot("worker-1", 22)
    for k in range(5):
        t = h.local(22, 13.0 + k)
        rows.append(
            row(
                worker1,
                "client",
                "8.8.8.8",
                53,
                t,
                rng.randrange(20, 40),
                75,
                160,
                "scenario:public-resolver",
                protocol=17,
                internet=True,
            )
        )
        rows.append(
            row(
                worker1,
                "client",
                "8.8.4.4",
                53,
                t,
                rng.randrange(5, 10),
                75,
                160,
                "scenario:public-resolver",
                protocol=17,
                internet=True,
            )
        )
    out.append(
        _flow(
            "public-resolver",
            "DefenseEvasion:EC2/UnusualDNSResolver",
            worker1.instance_id,
            "worker-1 sends DNS to 8.8.8.8 and 8.8.4.4",
            remote_ip="8.8.8.8",
        )
    )
    # malware on app-4 resolves its C2 over DNS-over-HTTPS
    app4 = w.slot("app-4", 25)
    for k in range(6):
        t = h.local(25, 10.0 + k)
        for resolver in ("1.1.1.1", "8.8.8.8"):
            rows.append(
                row(
                    app4,
                    "client",
                    resolver,
                    443,
                    t,
                    rng.randrange(8, 16),
                    2_500,
                    4_000,
                    "scenario:doh",
                    internet=True,
                )
            )
    out.append(
        _flow(
            "doh",
            "DefenseEvasion:EC2/UnusualDoHActivity",
            app4.instance_id,
            "app-4 sends HTTPS to 1.1.1.1 and 8.8.8.8 (DNS over HTTPS)",
            remote_ip="1.1.1.1",
        )
    )
    # a tunnelling tool on the search node uses DNS-over-TLS
    etl = w.slot("search-1", 26)
    for k in range(4):
        t = h.local(26, 15.0 + k)
        for resolver in ("9.9.9.9", "1.1.1.1"):
            rows.append(
                row(
                    etl,
                    "client",
                    resolver,
                    853,
                    t,
                    rng.randrange(6, 12),
                    1_800,
                    3_000,
                    "scenario:dot",
                    internet=True,
                )
            )
    out.append(
        _flow(
            "dot",
            "DefenseEvasion:EC2/UnusualDoTActivity",
            etl.instance_id,
            "search-1 sends DNS over TLS (853) to 9.9.9.9 and 1.1.1.1",
            remote_ip="9.9.9.9",
        )
    )
    # a database dump uploaded to a droplet nobody ever talked to
    db2 = w.slot("db-2", 27)
    t = h.local(27, 1.5)
    rows.append(
        row(
            db2,
            "client",
            w.ips["exfil_drop"],
            443,
            t,
            12,
            600 * MB,
            400_000,
            "scenario:dump-upload",
            internet=True,
        )
        | {"length": 3000}
    )
    out.append(_flow("dump-upload", "Behavior:EC2/TrafficVolumeUnusual", db2.instance_id, f"db-2 uploads ~{12 * 600 * MB / GB:.0f} GB to a new outside host in 50 minutes", remote_ip=w.ips["exfil_drop"]))  # fmt: skip
    flow_plan(h, rows)
    return out


BEHAVIOR_TYPES: Final = frozenset(
    {
        *IAM_TYPES.values(),
        "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B",
        "Discovery:S3/AnomalousBehavior",
        "Exfiltration:S3/AnomalousBehavior",
        "Impact:S3/AnomalousBehavior.Delete",
        "Impact:S3/AnomalousBehavior.Permission",
        "Impact:S3/AnomalousBehavior.Write",
        "Behavior:EC2/NetworkPortUnusual",
        "Backdoor:EC2/Spambot",
        "DefenseEvasion:EC2/UnusualDNSResolver",
        "DefenseEvasion:EC2/UnusualDoHActivity",
        "DefenseEvasion:EC2/UnusualDoTActivity",
        "Behavior:EC2/TrafficVolumeUnusual",
    }
)
"""The behaviour finding types the scenarios cover, one or more scenarios each."""
SCENARIOS: Final = (leaked_key, stolen_ops_key, contractor_key, impossible_travel, compromised_app, network)


def twins(h: History) -> list[Scenario]:
    """The look-alikes inside the baseline: each resembles a scenario's finding type and must not raise it."""
    w = h.world
    ci = f"{w.roles['ci-deployer']}:GitHubActions"
    admin = w.people["leo.king"]
    dr = f"{w.roles['dr-snapshots']}:dr-snapshots"
    export = f"{w.roles['monthly-export']}:export"
    backup = f"{w.roles['backup-writer']}:{w.slot('backup-1', 0).instance_id}"

    def inst(slot: str, d: int = 28) -> str:
        return w.slot(slot, d).instance_id

    def principal(name: str, type_: str, pid: str, text: str, **key: str) -> Scenario:
        return Scenario(name, type_, "cloudtrail", "AccessKey", pid, {"principal_id": pid, **key}, text)

    tom, ava, oliver, sophie = (
        w.people[n] for n in ("tom.baker", "ava.wright", "oliver.hughes", "sophie.turner")
    )
    return [
        principal("onboarding", IAM_TYPES["persistence"], admin.principal_id, "an admin creates users, keys and login profiles (days 2, 9, 18, 23)"),
        principal("onboarding-policies", IAM_TYPES["privesc"], admin.principal_id, "... and attaches their policies and groups"),
        principal("ci-new-service", IAM_TYPES["privesc"], ci, "CI creates a role and attaches policies for a new service (day 16), from its usual runners"),
        principal("ci-preview-teardown", IAM_TYPES["impact"], ci, "CI deletes preview environments' security groups"),
        principal("dr-snapshots", IAM_TYPES["exfiltration"], dr, "snapshots shared with the DR account on day 0 and day 28"),
        principal("on-call-nights", IAM_TYPES["initial-access"], tom.principal_id, "on-call engineer at night from home (days 23, 27)", user_name=tom.name),
        principal("on-call-nights-sso", IAM_TYPES["discovery"], ava.principal_id, "on-call engineer at night (day 25)"),
        principal("security-audit", IAM_TYPES["discovery"], sophie.principal_id, "the security team's daily IAM and trail reviews", user_name=sophie.name),
        principal("console-office-then-home", "UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B", oliver.principal_id,
                  "console sign-ins from the office and from home 25 minutes apart", user_name=oliver.name),
        _s3("monthly-export", "Exfiltration:S3/AnomalousBehavior", "acme-data-lake", None, "the four-weekly export reads ~2,500 objects (day 28, as on day 0)", principal=export),
        _s3("backup-prune", "Impact:S3/AnomalousBehavior.Delete", "acme-backups", None, "the nightly prune deletes old backup parts", principal=backup),
        _s3("ci-public-assets", "Impact:S3/AnomalousBehavior.Permission", "acme-prod-assets", None, "every deploy sets public-read on static assets", principal=ci),
        _flow("mail-relay", "Backdoor:EC2/Spambot", inst("mail-relay"), "the mail relay sends SMTP to hundreds of MX hosts every day"),
        _flow("legacy-public-resolver", "DefenseEvasion:EC2/UnusualDNSResolver", inst("legacy-reports"), "a legacy box has always resolved through 8.8.8.8"),
        _flow("selenium-doh", "DefenseEvasion:EC2/UnusualDoHActivity", inst("selenium-1"), "the test grid's browsers use DoH to 1.1.1.1 and 8.8.8.8"),
        _flow("full-backup", "Behavior:EC2/TrafficVolumeUnusual", inst("backup-1"), "the day-28 full backup sends ~30 GB to the usual offsite host"),
        _flow("partner-sftp", "Behavior:EC2/NetworkPortUnusual", inst("etl-1"), "etl-1 uploads to a partner's SFTP on 22 every morning"),
    ]  # fmt: skip
