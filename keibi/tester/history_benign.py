"""A month of an account's everyday CloudTrail: people, CI, workloads and AWS services.

What a baseline has to learn and then tolerate:

- employees (IAM users and Identity Center sessions) on weekdays in office hours, London time
  (summer time ends on day 24), from their office or home networks in GB, at the console and
  with the CLI; each has a usual set of APIs and, now and then, a rare one in the same context;
  a CLI upgrade halfway through the month changes a few user agents' versions;
- a new employee who joins on day 18 and whose first week is all new;
- an on-call engineer working some nights from home; an admin onboarding people (creating
  users, keys and group memberships) a few times a month;
- a CI role with steady high volume from its hosted provider's addresses, deploying through
  CloudFormation (calls ``invokedBy`` it), creating and tearing down preview environments,
  and from day 16 deploying a new service (Step Functions, EventBridge Scheduler, a new IAM role);
- instance, Lambda and ECS roles reading secrets, keys and parameters all day, and AWS services
  (EC2, Lambda, Config, Auto Scaling) acting in the account;
- a four-weekly export job and a disaster-recovery snapshot job (snapshots shared with the DR
  account) that run on day 0 and again on day 28;
- S3 readers and writers with daily variance on seven buckets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from keibi.tester.history_run import HOUR, Api, History, S3Op, api_sessions, hours, s3_sessions, session_frame
from keibi.tester.history_trail import (
    calls,
    dumps,
    role_identity,
    service_identity,
    user_identity,
    web_identity,
)
from keibi.tester.history_world import GLOBAL_REGION, Person, sso_role
from keibi.tester.manifest import Background

CHROME_MAC: Final = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36"
CHROME_WIN: Final = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Safari/537.36"
FIREFOX: Final = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0"
SAFARI: Final = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15"
BROWSERS: Final = (CHROME_MAC, CHROME_WIN, FIREFOX, SAFARI)
CLI_MAC: Final = "aws-cli/{v} md/awscrt#0.21.2 ua/2.0 os/macos#23.6.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{c}"
CLI_LINUX: Final = "aws-cli/{v} md/awscrt#0.21.2 ua/2.0 os/linux#6.8.0-45-generic md/arch#x86_64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#{c}"
CLI_WIN: Final = "aws-cli/{v} md/awscrt#0.21.2 ua/2.0 os/windows#10 md/arch#amd64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/prompt#off md/command#{c}"
CLIS: Final = (CLI_MAC, CLI_LINUX, CLI_WIN)
CLI_VERSIONS: Final = ("2.17.56", "2.18.4")
"""The CLI everyone runs, then the release most people upgrade to around day 14."""
TERRAFORM: Final = (
    "APN/1.0 HashiCorp/1.0 Terraform/1.9.7 (+https://www.terraform.io) terraform-provider-aws/5.72.1 "
    "(+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.2 ua/2.1 os/linux lang/go#1.23.2 "
    "md/GOOS#linux md/GOARCH#amd64"
)
CI_CLI: Final = CLI_LINUX.format(v="2.18.4", c="ecs.update-service").replace(
    "md/distrib#ubuntu.24", "md/distrib#ubuntu.22 exec-env/GitHubActions"
)
BOTO3_EC2: Final = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#6.1.109-118.189.amzn2023.x86_64 md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.36"
)
JAVA_SDK: Final = (
    "aws-sdk-java/2.28.16 Linux/6.1.109-118.189.amzn2023.x86_64 OpenJDK_64-Bit_Server_VM/21.0.4+7-LTS Java/21.0.4 "
    "vendor/Amazon.com_Inc. md/internal exec-env/AWS_ECS_EC2 io/sync http/Apache cfg/retry-mode/legacy"
)
LAMBDA_UA: Final = (
    "Boto3/1.34.145 md/Botocore#1.34.145 ua/2.0 os/linux#5.10.226-235.879.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.145"
)
ECS_UA: Final = (
    "Boto3/1.35.36 md/Botocore#1.35.36 ua/2.0 os/linux#5.10.225-213.878.amzn2.x86_64 md/arch#x86_64 "
    "lang/python#3.12.6 md/pyimpl#CPython exec-env/AWS_ECS_FARGATE cfg/retry-mode#legacy Botocore/1.35.36"
)

EC2, S3, IAM, STS = "ec2.amazonaws.com", "s3.amazonaws.com", "iam.amazonaws.com", "sts.amazonaws.com"
LOGS, CW, SSM, ECS = (
    "logs.amazonaws.com",
    "monitoring.amazonaws.com",
    "ssm.amazonaws.com",
    "ecs.amazonaws.com",
)
LAMBDA, CFN, KMS, SECRETS = (
    "lambda.amazonaws.com",
    "cloudformation.amazonaws.com",
    "kms.amazonaws.com",
    "secretsmanager.amazonaws.com",
)
ATHENA, GLUE, RDS, ECR = (
    "athena.amazonaws.com",
    "glue.amazonaws.com",
    "rds.amazonaws.com",
    "ecr.amazonaws.com",
)


def _a(source: str, name: str, weight: int = 1, request: dict[str, object] | None = None) -> Api:
    return Api(source, name, None if request is None else dumps(request), weight)


CONSOLE_COMMON: Final = (
    _a(EC2, "DescribeInstances", 6),
    _a(EC2, "DescribeInstanceStatus", 2),
    _a(CW, "GetMetricData", 5),
    _a(CW, "DescribeAlarms", 2),
    _a(S3, "ListBuckets", 1),
    _a("health.amazonaws.com", "DescribeEventAggregates", 1),
    _a("notifications.amazonaws.com", "ListNotificationEvents", 1),
)
JOB_POOLS: Final[dict[str, tuple[Api, ...]]] = {
    "developer": (
        _a(LOGS, "FilterLogEvents", 8),
        _a(LOGS, "DescribeLogGroups", 3),
        _a(LOGS, "GetLogEvents", 4),
        _a(LAMBDA, "ListFunctions20150331", 3),
        _a(LAMBDA, "GetFunction20150331v2", 3),
        _a(ECS, "ListServices", 3),
        _a(ECS, "DescribeServices", 4),
        _a(ECS, "DescribeTasks", 3),
        _a(SSM, "GetParameter", 3, {"name": "/prod/app/feature_flags", "withDecryption": False}),
        _a(CFN, "DescribeStacks", 2),
        _a(CFN, "DescribeStackEvents", 2),
        _a(ECR, "DescribeImages", 2),
        _a("sqs.amazonaws.com", "ListQueues", 1),
        _a("dynamodb.amazonaws.com", "DescribeTable", 2),
        _a(STS, "GetCallerIdentity", 2),
        # rare, but theirs to do: a config tweak, a parameter, a forced redeploy
        _a(LAMBDA, "UpdateFunctionConfiguration20150331v2", 1),
        _a(SSM, "PutParameter", 1),
        _a(ECS, "UpdateService", 1),
        _a("xray.amazonaws.com", "GetTraceSummaries", 1),
    ),
    "data": (
        _a(ATHENA, "StartQueryExecution", 6),
        _a(ATHENA, "GetQueryExecution", 10),
        _a(ATHENA, "GetQueryResults", 5),
        _a(ATHENA, "ListWorkGroups", 1),
        _a(GLUE, "GetTables", 4),
        _a(GLUE, "GetDatabases", 2),
        _a(GLUE, "GetPartitions", 3),
        _a(GLUE, "GetTable", 3),
        _a(STS, "GetCallerIdentity", 1),
        _a(GLUE, "StartJobRun", 1),
        _a(GLUE, "GetJobRuns", 2),
        _a(GLUE, "UpdateTable", 1),
    ),
    "ops": (
        _a(EC2, "DescribeVolumes", 3),
        _a(EC2, "DescribeSnapshots", 2),
        _a(EC2, "DescribeSecurityGroups", 3),
        _a("autoscaling.amazonaws.com", "DescribeAutoScalingGroups", 3),
        _a("elasticloadbalancing.amazonaws.com", "DescribeTargetHealth", 3),
        _a(SSM, "DescribeInstanceInformation", 2),
        _a(SSM, "StartSession", 2, {"target": "i-0bastion"}),
        _a(SSM, "SendCommand", 1, {"documentName": "AWS-RunPatchBaseline"}),
        _a(SSM, "ListCommandInvocations", 2),
        _a(RDS, "DescribeDBInstances", 3),
        _a(IAM, "ListRoles", 1),
        _a(IAM, "GetRole", 1),
        _a(LOGS, "FilterLogEvents", 5),
        _a(ECS, "DescribeServices", 3),
        _a(EC2, "RebootInstances", 1),
        _a(EC2, "ModifyInstanceAttribute", 1),
        _a(EC2, "CreateTags", 1),
    ),
    "platform": (
        _a(IAM, "ListUsers", 3),
        _a(IAM, "GetUser", 3),
        _a(IAM, "ListGroupsForUser", 2),
        _a(IAM, "ListAttachedUserPolicies", 2),
        _a("sso.amazonaws.com", "ListPermissionSets", 2),
        _a("sso.amazonaws.com", "ListAccountAssignments", 2),
        _a("organizations.amazonaws.com", "DescribeOrganization", 1),
        _a(IAM, "ListRoles", 2),
        _a(EC2, "DescribeVpcs", 2),
        _a(EC2, "DescribeSubnets", 2),
        _a(CFN, "DescribeStacks", 2),
        _a("servicequotas.amazonaws.com", "ListServiceQuotas", 1),
    ),
    "security": (
        _a(IAM, "GetAccountAuthorizationDetails", 2),
        _a(IAM, "ListUsers", 3),
        _a(IAM, "ListAccessKeys", 3),
        _a(IAM, "GetAccessKeyLastUsed", 3),
        _a(IAM, "GenerateCredentialReport", 1),
        _a(IAM, "GetCredentialReport", 1),
        _a("securityhub.amazonaws.com", "GetFindings", 5),
        _a("guardduty.amazonaws.com", "ListFindings", 3),
        _a("guardduty.amazonaws.com", "GetFindings", 3),
        _a("cloudtrail.amazonaws.com", "LookupEvents", 4),
        _a("cloudtrail.amazonaws.com", "DescribeTrails", 1),
        _a("cloudtrail.amazonaws.com", "GetTrailStatus", 1),
        _a("config.amazonaws.com", "DescribeComplianceByConfigRule", 2),
        _a("access-analyzer.amazonaws.com", "ListFindings", 2),
        _a(EC2, "DescribeSecurityGroups", 2),
        _a(S3, "GetBucketPolicy", 2, {"bucketName": "acme-data-lake", "policy": ""}),
        _a(S3, "GetBucketAcl", 1, {"bucketName": "acme-data-lake", "acl": ""}),
        _a(EC2, "DescribeFlowLogs", 1),
    ),
    "finance": (
        _a("ce.amazonaws.com", "GetCostAndUsage", 6),
        _a("ce.amazonaws.com", "GetCostForecast", 2),
        _a("budgets.amazonaws.com", "DescribeBudgets", 2),
        _a("cur.amazonaws.com", "DescribeReportDefinitions", 1),
        _a("ce.amazonaws.com", "GetReservationUtilization", 1),
    ),
    "hr": (
        _a(S3, "ListBuckets", 1),
        _a("notifications.amazonaws.com", "ListNotificationEvents", 1),
    ),
    "contractor": (
        _a(LOGS, "FilterLogEvents", 5),
        _a(ECS, "DescribeServices", 3),
        _a(ECS, "DescribeTasks", 2),
        _a(ECR, "DescribeImages", 2),
        _a(ECR, "DescribeRepositories", 1),
        _a(LAMBDA, "ListFunctions20150331", 2),
        _a(STS, "GetCallerIdentity", 1),
    ),
}
JOB_RARE: Final[dict[str, tuple[Api, ...]]] = {
    "developer": (
        _a(LOGS, "CreateLogGroup"),
        _a(LOGS, "PutRetentionPolicy"),
        _a(LAMBDA, "PublishVersion20150331"),
        _a(ECR, "CreateRepository"),
        _a(SSM, "DeleteParameter"),
        _a("sqs.amazonaws.com", "CreateQueue"),
    ),
    "data": (_a(GLUE, "CreateTable"), _a(GLUE, "DeleteTable"), _a(ATHENA, "CreateNamedQuery")),
    "ops": (
        _a(
            EC2,
            "CreateSnapshot",
            request={"volumeId": "vol-0a1b2c3d4e5f60718", "description": "before resize"},
        ),
        _a(EC2, "ModifyVolume"),
        _a(EC2, "StopInstances"),
        _a(EC2, "StartInstances"),
        _a(EC2, "AuthorizeSecurityGroupIngress"),
        _a(RDS, "RebootDBInstance"),
    ),
    "platform": (_a(IAM, "UpdateAccessKey"), _a(IAM, "DeleteLoginProfile"), _a(IAM, "RemoveUserFromGroup")),
    "security": (
        _a("guardduty.amazonaws.com", "ArchiveFindings"),
        _a("securityhub.amazonaws.com", "BatchUpdateFindings"),
    ),
    "finance": (_a("ce.amazonaws.com", "CreateCostCategoryDefinition"),),
    "hr": (_a(S3, "GetBucketLocation", request={"bucketName": "acme-hr-docs", "location": ""}),),
    "contractor": (_a(LOGS, "StartQuery"), _a(LOGS, "GetQueryResults")),
}
"""What someone in the job does once in a while (about one working day in eight), from their
usual place with their usual tools: new for them, sometimes new for the account."""
_RATES: Final = {
    "developer": (10, 26),
    "data": (8, 18),
    "ops": (12, 30),
    "platform": (8, 16),
    "security": (8, 20),
    "finance": (3, 7),
    "hr": (1, 3),
    "contractor": (6, 14),
}
S3_JOB_POOLS: Final[dict[str, tuple[S3Op, ...]]] = {
    "data": (
        S3Op(
            "GetObject",
            "acme-data-lake",
            "curated/events/dt=2026-10/part-",
            ".parquet",
            4000,
            (2_000_000, 60_000_000),
            6,
        ),
        S3Op("ListObjects", "acme-data-lake", "curated/events/", weight=2),
        S3Op(
            "PutObject", "acme-data-lake", "sandbox/notebooks/run-", ".parquet", 500, (100_000, 5_000_000), 1
        ),
    ),
    "finance": (
        S3Op("GetObject", "acme-reports", "finance/daily/report-", ".csv", 400, (50_000, 900_000), 4),
        S3Op("ListObjects", "acme-reports", "finance/daily/"),
    ),
    "hr": (
        S3Op("GetObject", "acme-hr-docs", "contracts/", ".pdf", 300, (80_000, 600_000), 4),
        S3Op("ListObjects", "acme-hr-docs", "contracts/", weight=2),
        S3Op("PutObject", "acme-hr-docs", "contracts/", ".pdf", 300, (80_000, 600_000), 1),
    ),
}
INCIDENT_POOL: Final = (
    _a(EC2, "DescribeInstances", 4),
    _a(CW, "GetMetricData", 6),
    _a(CW, "DescribeAlarms", 2),
    _a(LOGS, "FilterLogEvents", 6),
    _a(ECS, "DescribeServices", 3),
    _a(ECS, "UpdateService", 1),
    _a(EC2, "RebootInstances", 1),
    _a(SSM, "StartSession", 1, {"target": "i-0app"}),
    _a(RDS, "DescribeDBInstances", 2),
)
ON_CALL_NIGHTS: Final = {"tom.baker": (4, 9, 13, 23, 27), "ava.wright": (6, 16, 25)}


def _identity_keys(h: History, person: Person) -> tuple[str, str, str]:
    """(console who, cli who, CLI key kind): templates registered for ``person``."""
    w = h.world
    if person.kind == "iam":
        console = h.who(
            f"console:{person.name}", user_identity(w, person.name, person.principal_id, console=True)
        )
        cli = h.who(f"user:{person.name}", user_identity(w, person.name, person.principal_id))
        return console, cli, "long-term"
    sso = h.who(f"sso:{person.name}", role_identity(w, sso_role(person), f"{person.name}@acme.co.uk"))
    return sso, sso, "session"


def employees(h: History) -> Background:
    """Office hours, weekdays, from the office (hybrid: three days a week) or home."""
    w, rng = h.world, h.rng
    rows: list[dict[str, object]] = []
    s3_rows: list[dict[str, object]] = []
    logins: list[tuple[int, str, str, str]] = []
    for person in w.people.values():
        console_who, cli_who, kind = _identity_keys(h, person)
        browser = rng.choice(BROWSERS)
        cli = rng.choice(CLIS)
        upgrade = rng.randrange(10, 20) if rng.random() < 0.7 else h.days
        office_days = set(rng.sample(range(5), 3)) if rng.random() < 0.8 else set(range(5))
        lo, hi = _RATES[person.job]
        rate = rng.uniform(lo, hi)
        home2 = person.home.rsplit(".", 2)[0] + f".{rng.randrange(1, 255)}.{rng.randrange(2, 254)}"
        for d in range(person.joined, h.days):
            if not h.workday(d) or (d != person.joined and rng.random() < 0.07):
                continue
            at_office = h.weekday(d) in office_days or d == person.joined
            ip = rng.choice(w.office_ips[person.office]) if at_office else (person.home if d < 15 else home2)
            factor = rng.uniform(0.5, 1.5)
            begin = rng.uniform(7.8, 9.6)
            morning = h.local(d, begin)
            console_key = w.ids.key("ASIA")
            if person.kind == "iam":
                logins.append((morning, person.name, ip, browser))
            version = CLI_VERSIONS[d >= upgrade]
            common = {"ip": ip, "tag": f"benign:employees/{person.job}"}
            rows.append(
                {**common, "who": console_who, "key": console_key if person.kind == "iam" else w.ids.key("ASIA"),
                 "since": morning, "ua": browser, "pool": "console:" + person.job,
                 "start": morning + 30, "length": int(3.2 * HOUR), "n": int(rate * 3.2 * factor * 0.6)}
            )  # fmt: skip
            afternoon = h.local(d, rng.uniform(13.0, 14.0))
            cli_key = person.access_key if kind == "long-term" else w.ids.key("ASIA")
            rows.append(
                {**common, "who": cli_who, "key": cli_key, "since": afternoon,
                 "ua": cli.format(v=version, c=rng.choice(("logs.tail", "ecs.describe-services", "athena.get-query-results", "sts.get-caller-identity"))),
                 "pool": person.job, "start": afternoon, "length": int(3.5 * HOUR), "n": int(rate * 3.5 * factor)}
            )  # fmt: skip
            if rng.random() < 0.12:
                rows.append(
                    {**common, "who": cli_who, "key": cli_key, "since": afternoon, "ua": rows[-1]["ua"],
                     "pool": "rare:" + person.job, "start": afternoon + 600, "length": 3 * HOUR, "n": 1,
                     "tag": "benign:employees/rare"}
                )  # fmt: skip
            if person.job in S3_JOB_POOLS:
                s3_rows.append(
                    {**common, "who": cli_who, "key": cli_key, "since": afternoon,
                     "ua": cli.format(v=version, c="s3.cp"), "pool": person.job,
                     "start": h.local(d, 10), "length": 6 * HOUR, "n": int(rng.uniform(5, 40) * factor)}
                )  # fmt: skip
    pools: dict[str, tuple[Api, ...]] = {}
    for job, pool in JOB_POOLS.items():
        pools[job] = pool
        pools["rare:" + job] = JOB_RARE[job]
        pools["console:" + job] = CONSOLE_COMMON + pool[:6]
    api_sessions(h, session_frame(rows), pools)
    s3_sessions(h, session_frame(s3_rows), S3_JOB_POOLS)
    for t, name, ip, browser in logins:
        console_login(h, t, name, ip, browser, tag="benign:employees/console-login")
    return Background(
        "employees",
        "cloudtrail",
        f"{len(w.people)} employees (IAM users with console and CLI, Identity Center sessions) in office hours "
        "from their offices and homes in GB; a rare API now and then; a CLI upgrade mid-month",
    )


def console_login(h: History, t: int, name: str, ip: str, browser: str, *, tag: str) -> None:
    """A successful console sign-in of IAM user ``name`` with MFA."""
    w = h.world
    person = w.people[name]
    who = h.who(f"user:{name}", user_identity(w, name, person.principal_id))
    extra = {
        "LoginTo": "https://eu-west-2.console.aws.amazon.com/console/home?region=eu-west-2&state=hashArgs%23&isauthcode=true",
        "MobileVersion": "No",
        "MFAIdentifier": f"arn:aws:iam::{w.account_id}:mfa/{name}",
        "MFAUsed": "Yes",
    }
    h.add(
        calls(
            t=t, region=GLOBAL_REGION, tag=tag, who=who, key=None, source="signin.amazonaws.com", name="ConsoleLogin",
            ip=ip, ua=browser, read_only=False, response=dumps({"ConsoleLogin": "Success"}), extra=dumps(extra),
            event_type="AwsConsoleSignIn",
        )
    )  # fmt: skip


def on_call(h: History) -> Background:
    """Incidents at night: the on-call engineers sign in from home and dig in."""
    w, rng = h.world, h.rng
    rows = []
    for name, nights in ON_CALL_NIGHTS.items():
        person = w.people[name]
        console_who, _, _ = _identity_keys(h, person)
        for d in nights:
            if d >= h.days:
                continue
            t = h.local(d, rng.uniform(0.5, 3.0))
            if person.kind == "iam":
                console_login(h, t, name, person.home, CHROME_MAC, tag="benign:on-call")
            rows.append(
                {"who": console_who, "key": w.ids.key("ASIA"), "since": t, "ip": person.home, "ua": CHROME_MAC,
                 "pool": "incident", "start": t + 40, "length": int(rng.uniform(0.7, 1.6) * HOUR),
                 "n": rng.randrange(60, 160), "tag": "benign:on-call"}
            )  # fmt: skip
    api_sessions(h, session_frame(rows), {"incident": INCIDENT_POOL})
    return Background("on-call", "cloudtrail", "on-call engineers answer incidents at night from home")


ONBOARDING_DAYS: Final = {2: "svc-metrics", 9: "vendor-audit", 18: "ruby.clark", 23: "intern-2026"}


def onboarding(h: History) -> Background:
    """The platform admin creates users, keys and group memberships for new starters."""
    w = h.world
    admin = w.people["leo.king"]
    who, _, _ = _identity_keys(h, admin)
    for d, user in ONBOARDING_DAYS.items():
        if d >= h.days:
            continue
        t = h.local(d, 10.5)
        steps = (
            ("CreateUser", {"userName": user, "path": "/"}),
            ("AddUserToGroup", {"groupName": "developers", "userName": user}),
            ("AttachUserPolicy", {"userName": user, "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
            ("CreateLoginProfile", {"userName": user, "passwordResetRequired": True}),
            ("CreateAccessKey", {"userName": user}),
            ("TagUser", {"userName": user, "tags": [{"key": "team", "value": "engineering"}]}),
        )
        h.add(
            calls(
                t=[t + 40 * i for i in range(len(steps))], tag="twin:onboarding", who=who, key=w.ids.key("ASIA"),
                since=t - 600, source=IAM, name=[s[0] for s in steps], ip=w.office_ips[admin.office][0],
                ua=CHROME_MAC, read_only=False, request=[dumps(s[1]) for s in steps],
            )
        )  # fmt: skip
    return Background(
        "onboarding",
        "cloudtrail",
        "an admin creates users, login profiles, keys and group memberships for starters",
    )


CI_DEPLOY: Final = (
    _a(ECR, "GetAuthorizationToken", 3),
    _a(ECR, "BatchCheckLayerAvailability", 6),
    _a(ECR, "InitiateLayerUpload", 3),
    _a(ECR, "UploadLayerPart", 3),
    _a(ECR, "CompleteLayerUpload", 3),
    _a(ECR, "PutImage", 2),
    _a(ECS, "RegisterTaskDefinition", 2),
    _a(ECS, "UpdateService", 2),
    _a(ECS, "DescribeServices", 6),
    _a(LAMBDA, "UpdateFunctionCode20150331v2", 2),
    _a(LAMBDA, "GetFunction20150331v2", 2),
    _a(CFN, "CreateChangeSet", 1),
    _a(CFN, "DescribeChangeSet", 3),
    _a(CFN, "ExecuteChangeSet", 1),
    _a(CFN, "DescribeStacks", 4),
    _a(CFN, "DescribeStackEvents", 4),
    _a(SSM, "GetParameter", 3, {"name": "/ci/deploy/image_tag", "withDecryption": False}),
    _a(STS, "GetCallerIdentity", 2),
    _a("cloudfront.amazonaws.com", "CreateInvalidation", 1),
)
CI_TERRAFORM: Final = (
    _a(EC2, "DescribeVpcs", 4),
    _a(EC2, "DescribeSubnets", 4),
    _a(EC2, "DescribeSecurityGroups", 5),
    _a(EC2, "DescribeSecurityGroupRules", 3),
    _a(EC2, "DescribeNetworkInterfaces", 2),
    _a(IAM, "GetRole", 5),
    _a(IAM, "GetRolePolicy", 3),
    _a(IAM, "ListAttachedRolePolicies", 3),
    _a(IAM, "GetPolicy", 2),
    _a(IAM, "GetPolicyVersion", 2),
    _a(S3, "GetBucketPolicy", 2, {"bucketName": "acme-prod-assets", "policy": ""}),
    _a(S3, "GetBucketVersioning", 2, {"bucketName": "acme-prod-assets", "versioning": ""}),
    _a(RDS, "DescribeDBInstances", 2),
    _a("elasticloadbalancing.amazonaws.com", "DescribeLoadBalancers", 2),
    _a("elasticloadbalancing.amazonaws.com", "DescribeTargetGroups", 2),
    _a(KMS, "DescribeKey", 2),
    _a(LOGS, "DescribeLogGroups", 2),
    _a(STS, "GetCallerIdentity", 1),
    _a(EC2, "AuthorizeSecurityGroupIngress", 1),
    _a(EC2, "RevokeSecurityGroupIngress", 1),
)
CI_PREVIEW: Final = (
    _a(EC2, "CreateSecurityGroup", 1),
    _a(EC2, "AuthorizeSecurityGroupIngress", 2),
    _a(ECS, "CreateService", 1),
    _a(ECS, "DeleteService", 1),
    _a("elasticloadbalancing.amazonaws.com", "CreateRule", 1),
    _a("elasticloadbalancing.amazonaws.com", "DeleteRule", 1),
    _a(EC2, "DeleteSecurityGroup", 1),
    _a("route53.amazonaws.com", "ChangeResourceRecordSets", 2),
    _a(ECS, "DescribeServices", 4),
)
CI_NEW_SERVICE: Final = (
    _a("states.amazonaws.com", "DescribeStateMachine", 4),
    _a("states.amazonaws.com", "UpdateStateMachine", 1),
    _a("states.amazonaws.com", "ListTagsForResource", 2),
    _a("scheduler.amazonaws.com", "GetSchedule", 2),
    _a("scheduler.amazonaws.com", "UpdateSchedule", 1),
)
NEW_SERVICE_DAY: Final = 16
CFN_FOLLOW_UP: Final = (
    _a(LAMBDA, "UpdateFunctionConfiguration20150331v2", 2),
    _a(LAMBDA, "GetFunction20150331v2", 3),
    _a(IAM, "GetRole", 2),
    _a(EC2, "DescribeSecurityGroups", 2),
    _a("sqs.amazonaws.com", "SetQueueAttributes", 1),
    _a("events.amazonaws.com", "PutRule", 1),
    _a("events.amazonaws.com", "DescribeRule", 2),
)


def ci(h: History) -> Background:
    """GitHub Actions runs: OIDC web identity, then deploys and Terraform from the runners."""
    w, rng = h.world, h.rng
    ci_who = h.who("role:ci-deployer", role_identity(w, "ci-deployer", "GitHubActions"))
    cfn_who = h.who(
        "role:ci-deployer+cfn",
        role_identity(w, "ci-deployer", "GitHubActions", invoked_by="cloudformation.amazonaws.com"),
    )
    oidc = h.who(
        "oidc:github",
        web_identity(w, "token.actions.githubusercontent.com", "repo:acme/platform:ref:refs/heads/main"),
    )
    rows, cfn_rows, s3_rows = [], [], []
    assume_t, assume_ip, assume_key = [], [], []
    for d in range(h.days):
        runs = rng.randrange(28, 42) if h.workday(d) else rng.randrange(3, 6)
        for _ in range(runs):
            t = h.local(d, rng.uniform(8.0, 19.5)) if h.workday(d) else h.local(d, rng.uniform(0, 24))
            ip, key = rng.choice(w.ci_ips), w.ids.key("ASIA")
            assume_t.append(t)
            assume_ip.append(ip)
            assume_key.append(key)
            kind = rng.choices(("deploy", "terraform", "preview"), (5, 3, 1 if h.workday(d) else 0))[0]
            n = {
                "deploy": rng.randrange(30, 70),
                "terraform": rng.randrange(50, 110),
                "preview": rng.randrange(15, 30),
            }[kind]
            pool = kind if not (kind == "terraform" and d >= NEW_SERVICE_DAY) else "terraform+new"
            row = {"who": ci_who, "key": key, "since": t, "ip": ip, "ua": TERRAFORM if kind != "deploy" else CI_CLI,
                   "pool": pool, "start": t + 5, "length": rng.randrange(240, 900), "n": n, "tag": "benign:ci"}  # fmt: skip
            rows.append(row)
            if kind == "deploy":
                s3_rows.append(
                    {
                        **row,
                        "ua": CI_CLI.replace("ecs.update-service", "s3.sync"),
                        "pool": "assets",
                        "n": rng.randrange(8, 24),
                    }
                )
                if rng.random() < 0.4:
                    cfn_rows.append({**row, "who": cfn_who, "ip": "cloudformation.amazonaws.com", "ua": "cloudformation.amazonaws.com",
                                     "pool": "cfn", "start": t + 300, "length": 400, "n": rng.randrange(6, 16)})  # fmt: skip
    api_sessions(
        h,
        session_frame(rows + cfn_rows),
        {
            "deploy": CI_DEPLOY,
            "terraform": CI_TERRAFORM,
            "terraform+new": CI_TERRAFORM + CI_NEW_SERVICE,
            "preview": CI_PREVIEW,
            "cfn": CFN_FOLLOW_UP,
        },
    )
    s3_sessions(
        h,
        session_frame(s3_rows),
        {
            "assets": (
                S3Op(
                    "PutObject", "acme-prod-assets", "static/build/chunk-", ".js", 3000, (2_000, 400_000), 3
                ),
                S3Op("PutObjectAcl", "acme-prod-assets", "static/build/chunk-", ".js", 3000, (0, 0), 2),
                S3Op("ListObjects", "acme-prod-assets", "static/build/", weight=1),
            )
        },
    )
    role_arn = w.arn("role", "ci-deployer")
    h.add(
        calls(
            t=assume_t, tag="benign:ci", who=oidc, source=STS, name="AssumeRoleWithWebIdentity", ip=assume_ip,
            ua="aws-sdk-nodejs/2.1691.0 linux/v20.17.0 configure-aws-credentials-for-github-actions promise",
            read_only=True,
            request=dumps({"roleArn": role_arn, "roleSessionName": "GitHubActions", "durationSeconds": 3600}),
            response=[dumps({"credentials": {"accessKeyId": k}, "subjectFromWebIdentityToken": "repo:acme/platform:ref:refs/heads/main"}) for k in assume_key],
        )
    )  # fmt: skip
    # day 16: Terraform creates the new service: its role, state machine, schedule
    d = NEW_SERVICE_DAY
    if d < h.days:
        t = h.local(d, 11.2)
        steps = (
            (IAM, "CreateRole", {"roleName": "order-sync-sfn", "assumeRolePolicyDocument": "{...}"}),
            (
                IAM,
                "AttachRolePolicy",
                {
                    "roleName": "order-sync-sfn",
                    "policyArn": "arn:aws:iam::aws:policy/AWSStepFunctionsFullAccess",
                },
            ),
            (IAM, "PutRolePolicy", {"roleName": "order-sync-sfn", "policyName": "invoke-lambdas"}),
            ("states.amazonaws.com", "CreateStateMachine", {"name": "order-sync", "type": "STANDARD"}),
            ("scheduler.amazonaws.com", "CreateScheduleGroup", {"name": "order-sync"}),
            (
                "scheduler.amazonaws.com",
                "CreateSchedule",
                {"name": "order-sync-hourly", "groupName": "order-sync"},
            ),
            ("states.amazonaws.com", "TagResource", {"resourceArn": "order-sync"}),
        )
        h.add(
            calls(
                t=[t + 9 * i for i in range(len(steps))], tag="twin:ci-new-service", who=ci_who, key=w.ids.key("ASIA"),
                since=t - 60, source=[s[0] for s in steps], name=[s[1] for s in steps], ip=rng.choice(w.ci_ips), ua=TERRAFORM,
                read_only=False, request=[dumps(s[2]) for s in steps],
            )
        )  # fmt: skip
    return Background(
        "ci",
        "cloudtrail",
        "CI runs all day from the provider's runners: deploys, Terraform, preview environments created and torn "
        f"down, CloudFormation acting with the CI role; a new service's Create* calls from day {NEW_SERVICE_DAY}",
    )


WORKLOAD_POOLS: Final[dict[str, tuple[Api, ...]]] = {
    "app": (
        _a(KMS, "Decrypt", 6),
        _a(KMS, "GenerateDataKey", 2),
        _a(SECRETS, "GetSecretValue", 2, {"secretId": "prod/app/db-credentials"}),
        _a(
            SSM,
            "GetParameters",
            3,
            {"names": ["/prod/app/db_host", "/prod/app/api_url"], "withDecryption": False},
        ),
        _a(EC2, "DescribeTags", 1),
    ),
    "web": (
        _a(KMS, "Decrypt", 3),
        _a(SSM, "GetParameters", 2, {"names": ["/prod/web/feature_flags"], "withDecryption": False}),
    ),
    "worker": (
        _a(KMS, "Decrypt", 4),
        _a(SECRETS, "GetSecretValue", 2, {"secretId": "prod/worker/api-keys"}),
        _a("sqs.amazonaws.com", "GetQueueAttributes", 1),
    ),
    "etl": (
        _a(GLUE, "GetTable", 4),
        _a(GLUE, "BatchCreatePartition", 2),
        _a(ATHENA, "StartQueryExecution", 1),
        _a(ATHENA, "GetQueryExecution", 3),
    ),
    "monitor": (
        _a(CW, "GetMetricData", 5),
        _a(CW, "DescribeAlarms", 1),
        _a(EC2, "DescribeInstances", 2),
        _a(RDS, "DescribeDBInstances", 1),
    ),
}
WORKLOAD_S3: Final[dict[str, tuple[S3Op, ...]]] = {
    "app": (
        S3Op("PutObject", "acme-uploads", "incoming/2026/10/upload-", ".jpg", 90_000, (80_000, 6_000_000)),
    ),
    "web": (S3Op("GetObject", "acme-prod-assets", "static/build/chunk-", ".js", 3000, (2_000, 400_000)),),
    "worker": (
        S3Op("GetObject", "acme-uploads", "incoming/2026/10/upload-", ".jpg", 90_000, (80_000, 6_000_000), 2),
        S3Op("DeleteObject", "acme-uploads", "incoming/2026/10/upload-", ".jpg", 90_000, (0, 0), 2),
        S3Op("PutObject", "acme-data-lake", "raw/uploads/dt=2026-10/meta-", ".json", 90_000, (500, 4_000), 1),
    ),
    "etl": (
        S3Op(
            "PutObject",
            "acme-data-lake",
            "curated/events/dt=2026-10/part-",
            ".parquet",
            4000,
            (2_000_000, 60_000_000),
            3,
        ),
        S3Op(
            "GetObject",
            "acme-data-lake",
            "raw/events/dt=2026-10/batch-",
            ".json.gz",
            8000,
            (500_000, 9_000_000),
            3,
        ),
        S3Op("ListObjects", "acme-data-lake", "raw/events/", weight=1),
    ),
}
_TIER_ROLE: Final = {
    "app": "app-instance",
    "web": "web-instance",
    "worker": "worker-instance",
    "etl": "etl-instance",
    "monitor": "app-instance",
}
_TIER_RATE: Final = {"app": 14.0, "web": 3.0, "worker": 6.0, "etl": 5.0, "monitor": 4.0}
_TIER_S3: Final = {"app": 6.0, "web": 4.0, "worker": 10.0, "etl": 12.0}


def web_curve(local_hour: float) -> float:
    """Traffic over a day: low at night, rising through the day to an evening peak."""
    return (
        0.12 + 0.88 * max(0.0, min(1.0, (local_hour - 5.0) / 15.0))
        if local_hour < 21
        else 0.7 - 0.15 * (local_hour - 21)
    )


def workloads(h: History) -> Background:
    """Instance roles all day through the NAT gateway (S3 through the gateway endpoint), their
    keys rotated every six hours, volumes following the site's traffic."""
    w, rng = h.world, h.rng
    vpce = "vpce-" + w.ids.hex(17)
    rows, s3_rows = [], []
    for tier, role in _TIER_ROLE.items():
        for inst in w.tier(tier):
            who = h.who(f"role:{role}/{inst.instance_id}", role_identity(w, role, inst.instance_id, ec2=True))
            key, since = "", 0
            for _d, t, local in hours(h, inst.first_day, inst.last_day):
                if (t // HOUR) % 6 == 0 or not key:
                    key, since = w.ids.key("ASIA"), t - rng.randrange(0, 1800)
                shape = web_curve(local) * rng.uniform(0.7, 1.3)
                common = {
                    "who": who,
                    "key": key,
                    "since": since,
                    "start": t,
                    "length": HOUR,
                    "tag": f"benign:workloads/{tier}",
                }
                rows.append({**common, "ip": rng.choice(w.nat_ips), "ua": JAVA_SDK if tier == "app" else BOTO3_EC2,
                             "pool": tier, "n": int(_TIER_RATE[tier] * shape + rng.random())})  # fmt: skip
                if tier in _TIER_S3:
                    s3_rows.append({**common, "ip": inst.ip, "vpce": vpce, "ua": JAVA_SDK if tier == "app" else BOTO3_EC2,
                                    "pool": tier, "n": int(_TIER_S3[tier] * shape + rng.random())})  # fmt: skip
    # Lambda: thumbnails follow uploads, ingest is hourly
    for fn, tier_rate, s3 in (("lambda-thumbnailer", 8.0, "thumbs"), ("lambda-ingest", 5.0, "ingest")):
        who = h.who(f"role:{fn}", role_identity(w, fn, fn.removeprefix("lambda-")))
        for _d, t, local in hours(h, 0, h.days):
            key = w.ids.key("ASIA")
            s3_rows.append({"who": who, "key": key, "since": t - 60, "ip": rng.choice(w.lambda_ips), "ua": LAMBDA_UA,
                            "pool": s3, "start": t, "length": HOUR, "tag": "benign:workloads/lambda",
                            "n": int(tier_rate * (web_curve(local) if s3 == "thumbs" else 1.0) * rng.uniform(0.6, 1.4))})  # fmt: skip
    api_sessions(h, session_frame(rows), WORKLOAD_POOLS)
    s3_sessions(
        h,
        session_frame(s3_rows),
        {
            **WORKLOAD_S3,
            "thumbs": (
                S3Op(
                    "GetObject",
                    "acme-uploads",
                    "incoming/2026/10/upload-",
                    ".jpg",
                    90_000,
                    (80_000, 6_000_000),
                ),
                S3Op("PutObject", "acme-prod-assets", "thumbs/t-", ".webp", 90_000, (4_000, 60_000)),
            ),
            "ingest": (
                S3Op(
                    "PutObject",
                    "acme-data-lake",
                    "raw/events/dt=2026-10/batch-",
                    ".json.gz",
                    8000,
                    (500_000, 9_000_000),
                ),
            ),
        },
    )
    return Background(
        "workloads",
        "cloudtrail",
        "instance roles (per instance), Lambda functions: secrets, keys, parameters, S3 reads and writes through "
        "the gateway endpoint, following the day's traffic",
    )


def jobs(h: History) -> Background:
    """Scheduled jobs: nightly backups and prunes, daily reports, and two four-weekly jobs
    (export, disaster-recovery snapshots) on day 0 and day 28."""
    w, rng = h.world, h.rng
    backup = w.slot("backup-1", 0)
    backup_who = h.who("role:backup-writer", role_identity(w, "backup-writer", backup.instance_id, ec2=True))
    report_who = h.who("role:reporting-task", role_identity(w, "reporting-task", "reporting"))
    vpce = "vpce-" + w.ids.hex(17)
    s3_rows, rows = [], []
    backup_ua = CLI_LINUX.format(v="2.17.56", c="s3.cp").replace(
        "md/distrib#ubuntu.24", "md/distrib#amzn.2023"
    )
    for d in range(h.days):
        t = h.local(d, 2.0 + rng.uniform(0, 0.2))
        key = w.ids.key("ASIA")
        common = {
            "who": backup_who,
            "key": key,
            "since": t - 900,
            "ip": backup.ip,
            "vpce": vpce,
            "ua": backup_ua,
            "tag": "benign:jobs/backup",
        }
        s3_rows.append(
            {**common, "pool": "backup", "start": t, "length": int(1.5 * HOUR), "n": rng.randrange(50, 90)}
        )
        s3_rows.append(
            {
                **common,
                "pool": "prune",
                "start": t + int(1.6 * HOUR),
                "length": 600,
                "n": rng.randrange(40, 90),
            }
        )
        t = h.local(d, 6.0)
        key = w.ids.key("ASIA")
        common = {
            "who": report_who,
            "key": key,
            "since": t - 30,
            "ip": rng.choice(w.nat_ips),
            "ua": ECS_UA,
            "tag": "benign:jobs/reports",
        }
        rows.append({**common, "pool": "report", "start": t, "length": 1800, "n": rng.randrange(40, 70)})
        s3_rows.append(
            {**common, "pool": "report", "start": t + 600, "length": 1800, "n": rng.randrange(60, 140)}
        )
    export_who = h.who("role:monthly-export", role_identity(w, "monthly-export", "export"))
    dr_who = h.who("role:dr-snapshots", role_identity(w, "dr-snapshots", "dr-snapshots"))
    for d in (0, 28):
        if d >= h.days:
            continue
        t = h.local(d, 3.0)
        common = {
            "who": export_who,
            "key": w.ids.key("ASIA"),
            "since": t,
            "ip": w.nat_ips[0],
            "ua": ECS_UA,
            "tag": "twin:monthly-export",
        }
        rows.append({**common, "pool": "report", "start": t, "length": 1200, "n": 90})
        s3_rows.append(
            {
                **common,
                "pool": "export-read",
                "start": t + 300,
                "length": int(1.4 * HOUR),
                "n": rng.randrange(2200, 2800),
            }
        )
        s3_rows.append(
            {
                **common,
                "pool": "export-write",
                "start": t + 600,
                "length": int(1.4 * HOUR),
                "n": rng.randrange(250, 350),
            }
        )
        _dr_snapshots(h, dr_who, h.local(d, 4.0))
    for d in range(h.days):
        if h.weekday(d) == 6:  # Sunday maintenance: prune old DR snapshots
            rows.append({"who": dr_who, "key": w.ids.key("ASIA"), "since": h.local(d, 2), "ip": rng.choice(w.lambda_ips),
                         "ua": LAMBDA_UA, "pool": "dr-prune", "start": h.local(d, 2.1), "length": 900, "n": rng.randrange(25, 45),
                         "tag": "benign:jobs/dr-prune"})  # fmt: skip
    api_sessions(
        h,
        session_frame(rows),
        {
            "report": (
                _a(ATHENA, "StartQueryExecution", 2),
                _a(ATHENA, "GetQueryExecution", 6),
                _a(ATHENA, "GetQueryResults", 2),
                _a(GLUE, "GetTable", 1),
            ),
            "dr-prune": (_a(EC2, "DescribeSnapshots", 2), _a(EC2, "DeleteSnapshot", 3)),
        },
    )
    s3_sessions(
        h,
        session_frame(s3_rows),
        {
            "backup": (
                S3Op(
                    "PutObject",
                    "acme-backups",
                    "pg/nightly/part-",
                    ".dump.gz",
                    99_999,
                    (40_000_000, 200_000_000),
                    8,
                ),
                S3Op("ListObjects", "acme-backups", "pg/nightly/", weight=1),
            ),
            "prune": (S3Op("DeleteObject", "acme-backups", "pg/nightly/part-", ".dump.gz", 99_999, (0, 0)),),
            "report": (
                S3Op(
                    "GetObject",
                    "acme-data-lake",
                    "curated/events/dt=2026-10/part-",
                    ".parquet",
                    4000,
                    (2_000_000, 60_000_000),
                    3,
                ),
                S3Op("PutObject", "acme-reports", "finance/daily/report-", ".csv", 400, (50_000, 900_000), 1),
            ),
            "export-read": (
                S3Op(
                    "GetObject",
                    "acme-data-lake",
                    "curated/events/dt=2026-10/part-",
                    ".parquet",
                    4000,
                    (2_000_000, 60_000_000),
                    9,
                ),
                S3Op("ListObjects", "acme-data-lake", "curated/events/", weight=1),
            ),
            "export-write": (
                S3Op(
                    "PutObject",
                    "acme-exports",
                    "monthly/2026-10/export-",
                    ".csv.gz",
                    5000,
                    (1_000_000, 30_000_000),
                ),
            ),
        },
    )
    return Background(
        "jobs",
        "cloudtrail",
        "nightly backups and prunes, daily reports, a four-weekly export (thousands of reads) and DR snapshots "
        "shared with the DR account on day 0 and day 28, DR snapshot prunes on Sundays",
    )


def _dr_snapshots(h: History, who: str, t: int) -> None:
    w, rng = h.world, h.rng
    volumes = [f"vol-{w.ids.hex(17)}" for _ in range(18)]
    snaps = [f"snap-{w.ids.hex(17)}" for _ in volumes]
    ip = rng.choice(w.lambda_ips)
    events: list[tuple[str, str, dict[str, object], str | None]] = [
        (EC2, "DescribeVolumes", {"filterSet": {}}, None)
    ]
    for vol, snap in zip(volumes, snaps, strict=True):
        events.append((EC2, "CreateSnapshot", {"volumeId": vol, "description": "dr-monthly"}, None))
        events.append(
            (EC2, "CopySnapshot", {"sourceSnapshotId": snap, "sourceRegion": "eu-west-2"}, GLOBAL_REGION)
        )
        events.append(
            (EC2, "ModifySnapshotAttribute", {"snapshotId": snap, "createVolumePermission": {"add": {"items": [{"userId": w.dr_account_id}]}}, "attributeType": "CREATE_VOLUME_PERMISSION"}, None)
        )  # fmt: skip
    for db in ("orders-prod", "users-prod"):
        events.append(
            (RDS, "CreateDBSnapshot", {"dBInstanceIdentifier": db, "dBSnapshotIdentifier": f"{db}-dr"}, None)
        )
        events.append((RDS, "ModifyDBSnapshotAttribute", {"dBSnapshotIdentifier": f"{db}-dr", "attributeName": "restore", "valuesToAdd": [w.dr_account_id]}, None))  # fmt: skip
    events += [(EC2, "DescribeSnapshots", {"ownersSet": {"items": [{"owner": "self"}]}}, None)] * 12
    h.add(
        calls(
            t=[t + 7 * i for i in range(len(events))], tag="twin:dr-snapshots", who=who, key=w.ids.key("ASIA"), since=t - 30,
            source=[e[0] for e in events], name=[e[1] for e in events], request=[dumps(e[2]) for e in events],
            region=[e[3] for e in events], ip=ip, ua=LAMBDA_UA,
            read_only=[e[1].startswith("Describe") for e in events],
        )
    )  # fmt: skip


def aws_services(h: History) -> Background:
    """AWS services acting in the account: credential refreshes, Config sweeps, Auto Scaling."""
    w, rng = h.world, h.rng
    ec2 = h.who("svc:ec2", service_identity("ec2.amazonaws.com"))
    lam = h.who("svc:lambda", service_identity("lambda.amazonaws.com"))
    t_, who_, req = [], [], []
    for inst in w.instances:
        role = _TIER_ROLE.get(inst.tier, "app-instance")
        for d in range(inst.first_day, min(inst.last_day, h.days)):
            for k in range(4):
                t_.append(h.day(d) + k * 6 * HOUR + rng.randrange(0, 1800))
                who_.append(ec2)
                req.append(dumps({"roleArn": w.arn("role", role), "roleSessionName": inst.instance_id}))
    for fn in ("lambda-thumbnailer", "lambda-ingest", "dr-snapshots"):
        for d in range(h.days):
            for k in range(0, 24, 3):
                t_.append(h.day(d) + k * HOUR + rng.randrange(0, 3600))
                who_.append(lam)
                req.append(
                    dumps({"roleArn": w.arn("role", fn), "roleSessionName": fn.removeprefix("lambda-")})
                )
    h.add(
        calls(t=t_, tag="benign:aws-services", who=who_, source=STS, name="AssumeRole", ip=[("ec2" if x == ec2 else "lambda") + ".amazonaws.com" for x in who_],
              ua=[("ec2" if x == ec2 else "lambda") + ".amazonaws.com" for x in who_], read_only=True, request=req)
    )  # fmt: skip
    config = h.who(
        "role:AWSServiceRoleForConfig",
        role_identity(w, "AWSServiceRoleForConfig", "AWSConfig-Describe", invoked_by="config.amazonaws.com"),
    )
    rows = [
        {"who": config, "key": w.ids.key("ASIA"), "since": h.day(d) + k * 6 * HOUR, "ip": "config.amazonaws.com",
         "ua": "config.amazonaws.com", "pool": "config", "start": h.day(d) + k * 6 * HOUR, "length": 900,
         "n": rng.randrange(20, 40), "tag": "benign:aws-services/config"}
        for d in range(h.days) for k in range(4)
    ]  # fmt: skip
    api_sessions(
        h,
        session_frame(rows),
        {
            "config": (
                _a(EC2, "DescribeInstances", 3),
                _a(EC2, "DescribeSecurityGroups", 2),
                _a(EC2, "DescribeVolumes", 1),
                _a(IAM, "GetRole", 1),
                _a(IAM, "ListAttachedRolePolicies", 1),
                _a(S3, "GetBucketAcl", 1, {"bucketName": "acme-uploads", "acl": ""}),
                _a(S3, "GetBucketPolicy", 1, {"bucketName": "acme-uploads", "policy": ""}),
                _a(RDS, "DescribeDBInstances", 1),
            )
        },
    )
    asg = h.who(
        "role:AWSServiceRoleForAutoScaling",
        role_identity(
            w, "AWSServiceRoleForAutoScaling", "AutoScaling", invoked_by="autoscaling.amazonaws.com"
        ),
    )
    for inst in w.instances:
        events = []
        if inst.first_day > 0:
            events += [(inst.first_day, "RunInstances", {"instancesSet": {"items": [{"imageId": "ami-0b4c7755cdf0d9219", "minCount": 1, "maxCount": 1}]}}),
                       (inst.first_day, "CreateTags", {"resourcesSet": {"items": [{"resourceId": inst.instance_id}]}})]  # fmt: skip
        if inst.last_day < 30:
            events.append(
                (
                    inst.last_day,
                    "TerminateInstances",
                    {"instancesSet": {"items": [{"instanceId": inst.instance_id}]}},
                )
            )
        events = [e for e in events if e[0] < h.days]
        if events:
            h.add(
                calls(t=[h.local(e[0], 10.0) + 20 * i for i, e in enumerate(events)], tag="benign:aws-services/autoscaling",
                      who=asg, key=w.ids.key("ASIA"), since=h.local(events[0][0], 9.9), source=EC2, name=[e[1] for e in events],
                      ip="autoscaling.amazonaws.com", ua="autoscaling.amazonaws.com", read_only=False,
                      request=[dumps(e[2]) for e in events])
            )  # fmt: skip
    return Background(
        "aws-services",
        "cloudtrail",
        "EC2 and Lambda refresh role credentials, AWS Config sweeps as its service-linked role, Auto Scaling "
        "replaces instances (invokedBy, service host names as source)",
    )


CLOUDTRAIL: Final[tuple[Callable[[History], Background], ...]] = (
    employees,
    on_call,
    onboarding,
    ci,
    workloads,
    jobs,
    aws_services,
)
