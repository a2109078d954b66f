"""Attack scenarios: one or more per implemented finding type, each as real logs would show it.

Each function records its activity on the ``Run`` under the tag ``scenario:<name>`` and
returns the ``Scenario`` a scan must find. Times are offsets from the run's start, spread
over the first two hours so windows and file boundaries get crossed. S3 scenarios live in
``keibi.tester.scenarios_s3``. Where a scenario steals a role session's key, the session's
legitimate use of the same key (from AWS's addresses) is recorded under a ``background:`` tag:
it must stay quiet while the stolen use raises.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl

from keibi.tester.cloudtrail import (
    BOTO3_UA,
    ECS_BOTO3_UA,
    LAMBDA_BOTO3_UA,
    MAC_CLI_UA,
    UBUNTU_CLI_UA,
    Role,
    assumed_root,
    iam_user,
    root,
)
from keibi.tester.dnslogs import answers_json
from keibi.tester.flowlogs import RST, SYN, SYN_FIN, SYNACK_FIN
from keibi.tester.lists import THREAT_DOMAIN
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.s3 import bucket_call
from keibi.tester.scenarios_bruteforce import BRUTE_FORCE_SCENARIOS
from keibi.tester.scenarios_dns_models import DNS_MODEL_SCENARIOS
from keibi.tester.scenarios_dns_signatures import DNS_SIGNATURE_SCENARIOS
from keibi.tester.scenarios_dos import DOS_SCENARIOS
from keibi.tester.scenarios_intel import INTEL_SCENARIOS
from keibi.tester.scenarios_probes import PROBE_SCENARIOS
from keibi.tester.scenarios_s3 import S3_SCENARIOS
from keibi.tester.vec import arange, where
from keibi.tester.world import Person

KALI_UA: Final = (
    "aws-cli/2.23.6 md/awscrt#1.0.0.dev0 ua/2.0 os/linux#6.12.13-cloud-amd64 md/arch#x86_64 lang/python#3.13.2 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/distrib#kali.2025 md/prompt#off "
    "md/command#{command}"
)
KALI_UA_OLD: Final = (
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-kali3-amd64 exe/x86_64.kali.2024 prompt/off command/{command}"
)
PARROT_UA: Final = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-13parrot1-amd64 exe/x86_64.parrot.6 prompt/off command/{command}"
PENTOO_UA: Final = (
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.6.13-pentoo exe/x86_64.pentoo.2024 prompt/off command/{command}"
)

# (eventSource, eventName, readOnly, cli command)
_RECON_CALLS: Final = (
    ("sts.amazonaws.com", "GetCallerIdentity", True, "sts.get-caller-identity"),
    ("iam.amazonaws.com", "ListUsers", True, "iam.list-users"),
    ("ec2.amazonaws.com", "DescribeInstances", True, "ec2.describe-instances"),
    ("iam.amazonaws.com", "ListRoles", True, "iam.list-roles"),
)


def _key(person: Person, ip: str) -> dict[str, str]:
    return {
        "access_key_id": person.access_key_id,
        "principal_id": person.principal_id,
        "user_name": person.user_name,
        "remote_ip": ip,
    }


def root_credential_usage(run: Run) -> Scenario:
    w, tag = run.world, "scenario:root-credential-usage"
    ip, key = w.ips["root_attacker"], w.ids.key("AKIA")
    ident = root(w, key)
    t = run.start + 1200
    ua = UBUNTU_CLI_UA
    run.trail.call(
        t,
        ident,
        "sts.amazonaws.com",
        "GetCallerIdentity",
        tag=tag,
        ip=ip,
        read_only=True,
        ua=ua.format(command="sts.get-caller-identity"),
    )
    run.trail.call(
        t + 41,
        ident,
        "s3.amazonaws.com",
        "ListBuckets",
        tag=tag,
        ip=ip,
        read_only=True,
        ua=ua.format(command="s3.ls"),
        request={"Host": "s3.us-east-1.amazonaws.com"},
    )
    run.trail.call(
        t + 95,
        ident,
        "iam.amazonaws.com",
        "CreateAccessKey",
        tag=tag,
        ip=ip,
        read_only=False,
        ua=ua.format(command="iam.create-access-key"),
        request=None,
        response={
            "accessKey": {
                "accessKeyId": w.ids.key("AKIA"),
                "status": "Active",
                "createDate": "Nov 1, 2026 12:21:35 AM",
            }
        },
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Policy:IAMUser/RootCredentialUsage",
        "cloudtrail",
        "AccessKey",
        key,
        {"access_key_id": key, "principal_id": w.account_id, "user_type": "Root", "remote_ip": ip},
        "root's access key used from an outside address for GetCallerIdentity, ListBuckets and CreateAccessKey",
    )


def cloudtrail_logging_disabled(run: Run) -> Scenario:
    w, tag = run.world, "scenario:cloudtrail-logging-disabled"
    person, ip = w.people["dev-sam"], w.ips["stoplogging"]
    t = run.start + 2100
    run.trail.call(
        t,
        iam_user(w, person),
        "cloudtrail.amazonaws.com",
        "DescribeTrails",
        tag=tag,
        ip=ip,
        read_only=True,
        ua=UBUNTU_CLI_UA.format(command="cloudtrail.describe-trails"),
        request={"trailNameList": [], "includeShadowTrails": True},
    )
    run.trail.call(
        t + 30,
        iam_user(w, person),
        "cloudtrail.amazonaws.com",
        "StopLogging",
        tag=tag,
        ip=ip,
        read_only=False,
        ua=UBUNTU_CLI_UA.format(command="cloudtrail.stop-logging"),
        request={"name": w.trail_arn},
        response=None,
        resources=[{"accountId": w.account_id, "type": "AWS::CloudTrail::Trail", "ARN": w.trail_arn}],
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Stealth:IAMUser/CloudTrailLoggingDisabled",
        "cloudtrail",
        "AccessKey",
        person.access_key_id,
        _key(person, ip),
        f"IAM user {person.user_name} successfully calls StopLogging on {w.trail_arn}",
    )


def _pentest(run: Run, finding: str, distro: str, user: str, ip_name: str, uas: tuple[str, ...]) -> Scenario:
    w, tag = run.world, f"scenario:pentest-{distro}"
    person, ip = w.people[user], w.ips[ip_name]
    t = run.start + {"kali": 2400, "parrot": 2700, "pentoo": 3000}[distro]
    calls = (
        *_RECON_CALLS,
        ("s3.amazonaws.com", "ListBuckets", True, "s3.ls"),
        ("iam.amazonaws.com", "GetUser", True, "iam.get-user"),
    )
    for i, (source, name, ro, command) in enumerate(calls):
        run.trail.call(
            t + 7 * i,
            iam_user(w, person),
            source,
            name,
            tag=tag,
            ip=ip,
            read_only=ro,
            ua=uas[i % len(uas)].format(command=command),
            request=None,
        )
    return Scenario(
        tag.removeprefix("scenario:"),
        finding,
        "cloudtrail",
        "AccessKey",
        person.access_key_id,
        _key(person, ip),
        f"{person.user_name}'s key used from a {distro.title()} Linux aws-cli for recon calls",
    )


def pentest_kali(run: Run) -> Scenario:
    return _pentest(run, "PenTest:IAMUser/KaliLinux", "kali", "svc-reporting", "kali", (KALI_UA, KALI_UA_OLD))


def pentest_parrot(run: Run) -> Scenario:
    return _pentest(run, "PenTest:IAMUser/ParrotLinux", "parrot", "build-bot", "parrot", (PARROT_UA,))


def pentest_pentoo(run: Run) -> Scenario:
    return _pentest(run, "PenTest:IAMUser/PentooLinux", "pentoo", "legacy-etl", "pentoo", (PENTOO_UA,))


def _threat_ip_person(run: Run) -> tuple[Person, str]:
    return run.world.people["contractor-li"], run.world.ips["threat_iam"]


def iam_malicious_ip_recon(run: Run) -> Scenario:
    w, tag = run.world, "scenario:iam-malicious-ip-recon"
    person, ip = _threat_ip_person(run)
    t = run.start + 3300
    for i, (source, name, ro, command) in enumerate(_RECON_CALLS):
        run.trail.call(
            t + 11 * i,
            iam_user(w, person),
            source,
            name,
            tag=tag,
            ip=ip,
            read_only=ro,
            ua=UBUNTU_CLI_UA.format(command=command),
        )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Recon:IAMUser/MaliciousIPCaller.Custom",
        "cloudtrail",
        "AccessKey",
        person.access_key_id,
        _key(person, ip),
        "ListUsers, DescribeInstances, GetCallerIdentity from an IP on the threat list",
    )


def iam_malicious_ip_caller(run: Run) -> Scenario:
    w, tag = run.world, "scenario:iam-malicious-ip-caller"
    person, ip = _threat_ip_person(run)
    t = run.start + 3400
    new_user = "support-backdoor"
    run.trail.call(
        t,
        iam_user(w, person),
        "iam.amazonaws.com",
        "CreateUser",
        tag=tag,
        ip=ip,
        read_only=False,
        ua=UBUNTU_CLI_UA.format(command="iam.create-user"),
        request={"userName": new_user},
        response={
            "user": {
                "path": "/",
                "userName": new_user,
                "userId": w.ids.key("AIDA"),
                "arn": w.arn("user", new_user),
                "createDate": "Nov 1, 2026 12:56:40 AM",
            }
        },
    )
    run.trail.call(
        t + 9,
        iam_user(w, person),
        "iam.amazonaws.com",
        "AttachUserPolicy",
        tag=tag,
        ip=ip,
        read_only=False,
        ua=UBUNTU_CLI_UA.format(command="iam.attach-user-policy"),
        request={"userName": new_user, "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom",
        "cloudtrail",
        "AccessKey",
        person.access_key_id,
        _key(person, ip),
        "CreateUser and AttachUserPolicy (AdministratorAccess) from an IP on the threat list",
    )


# (eventSource, eventName, readOnly, cli command, requestParameters)
Calls = tuple[tuple[str, str, bool, str, dict[str, Any] | None], ...]


def _role_key(role: Role, ip: str) -> dict[str, str]:
    return {
        "access_key_id": role.access_key,
        "principal_id": f"{role.role_id}:{role.session}",
        "remote_ip": ip,
    }


def _calls(
    run: Run,
    t: float,
    ident: dict[str, Any],
    calls: Calls,
    *,
    tag: str,
    ip: str,
    ua: str,
    gap: int = 9,
    vpc_endpoint: tuple[str, str] | None = None,
) -> None:
    """Calls ``(eventSource, eventName, readOnly, cli command, requestParameters)`` ``gap`` s apart."""
    for i, (source, name, ro, command, request) in enumerate(calls):
        run.trail.call(
            t + gap * i,
            ident,
            source,
            name,
            tag=tag,
            ip=ip,
            ua=ua.format(command=command),
            read_only=ro,
            request=request,
            vpc_endpoint=vpc_endpoint,
        )


def short_term_root_credential_usage(run: Run) -> Scenario:
    """A centralized root access session (``S3UnlockBucketPolicy`` task) removes a bucket policy."""
    w, tag = run.world, "scenario:short-term-root-credential-usage"
    ip, key = w.ips["root_session"], w.ids.key("ASIA")
    t = run.start + 1500
    ident = assumed_root(w, key, t - 40)
    run.trail.call(
        t,
        ident,
        "sts.amazonaws.com",
        "GetCallerIdentity",
        tag=tag,
        ip=ip,
        read_only=True,
        ua=MAC_CLI_UA.format(command="sts.get-caller-identity"),
    )
    bucket = "acme-legacy-reports"
    for dt, name, command in ((31, "GetBucketPolicy", "get"), (64, "DeleteBucketPolicy", "delete")):
        bucket_call(
            run.trail,
            t + dt,
            ident,
            name,
            bucket,
            tag=tag,
            ip=ip,
            ua=MAC_CLI_UA.format(command=f"s3api.{command}-bucket-policy"),
            params={"policy": ""},
        )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Policy:IAMUser/ShortTermRootCredentialUsage",
        "cloudtrail",
        "AccessKey",
        key,
        {"access_key_id": key, "principal_id": w.account_id, "user_type": "Root", "remote_ip": ip},
        f"an sts:AssumeRoot session (assumedRoot, ASIA key) deletes the locked policy of {bucket}",
    )


def password_policy_change(run: Run) -> Scenario:
    w, tag = run.world, "scenario:password-policy-change"
    person = w.people["ops-admin"]
    weak = {
        "minimumPasswordLength": 6,
        "requireSymbols": False,
        "requireNumbers": False,
        "requireUppercaseCharacters": False,
        "requireLowercaseCharacters": True,
        "allowUsersToChangePassword": True,
    }
    _calls(
        run,
        run.start + 2500,
        iam_user(w, person),
        (
            ("iam.amazonaws.com", "GetAccountPasswordPolicy", True, "iam.get-account-password-policy", None),
            (
                "iam.amazonaws.com",
                "UpdateAccountPasswordPolicy",
                False,
                "iam.update-account-password-policy",
                weak,
            ),
        ),
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA,
        gap=47,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Stealth:IAMUser/PasswordPolicyChange",
        "cloudtrail",
        "AccessKey",
        person.access_key_id,
        _key(person, person.ip),
        f"{person.user_name} sets the password policy to 6 characters, no symbols, numbers or capitals",
    )


def bedrock_logging_disabled(run: Run) -> Scenario:
    """LLM-jacking: an SSO session turns off Bedrock invocation logging, then invokes models."""
    w, tag = run.world, "scenario:bedrock-logging-disabled"
    role = Role(
        "AWSReservedSSO_DevAdmin_5f2c1a9e0b7d4c3e",
        w.ids.key("AROA"),
        "mallory@contractor.example",
        w.ids.key("ASIA"),
        run.start + 2800,
    )
    ip = w.ips["llm_jacker"]
    model = {"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0"}
    bedrock = "bedrock.amazonaws.com"
    _calls(
        run,
        run.start + 2900,
        role.identity(w),
        (
            (bedrock, "ListFoundationModels", True, "", None),
            (bedrock, "GetModelInvocationLoggingConfiguration", True, "", None),
            (bedrock, "DeleteModelInvocationLoggingConfiguration", False, "", None),
            (bedrock, "InvokeModel", True, "", model),
            (bedrock, "InvokeModel", True, "", model),
        ),
        tag=tag,
        ip=ip,
        ua=BOTO3_UA,
        gap=13,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "DefenseEvasion:IAMUser/BedrockLoggingDisabled",
        "cloudtrail",
        "AccessKey",
        role.access_key,
        _role_key(role, ip),
        "an SSO session deletes the Bedrock model invocation logging configuration, then invokes Claude",
    )


def _instance_role(run: Run, host: str, role: str) -> Role:
    w = run.world
    return Role(
        role, w.ids.key("AROA"), str(w.hosts[host].instance_id), w.ids.key("ASIA"), run.start - 900, True
    )


# What an instance or function does with its own role: (eventSource, eventName, readOnly, -, request)
_OWN_CALLS: Final[Calls] = (
    ("ssm.amazonaws.com", "GetParameters", True, "", {"names": ["/prod/web/db_url"], "withDecryption": True}),
    ("kms.amazonaws.com", "Decrypt", True, "", {"encryptionAlgorithm": "SYMMETRIC_DEFAULT"}),
    ("sts.amazonaws.com", "GetCallerIdentity", True, "", None),
)
# What an attacker does first with stolen temporary credentials.
_STOLEN_CALLS: Final[Calls] = (
    ("sts.amazonaws.com", "GetCallerIdentity", True, "sts.get-caller-identity", None),
    ("s3.amazonaws.com", "ListBuckets", True, "s3.ls", {"Host": "s3.us-east-1.amazonaws.com"}),
    (
        "ec2.amazonaws.com",
        "DescribeInstances",
        True,
        "ec2.describe-instances",
        {"instancesSet": {}, "filterSet": {}},
    ),
    ("secretsmanager.amazonaws.com", "ListSecrets", True, "secretsmanager.list-secrets", None),
)


def _own_use(run: Run, ident: dict[str, Any], ip: str, tag: str, ua: str, t0: int, every: int) -> None:
    """The legitimate owner of a role session calls with it every ``every`` seconds."""
    for i, t in enumerate(range(t0, run.end, every)):
        source, name, ro, _, request = _OWN_CALLS[i % len(_OWN_CALLS)]
        run.trail.call(float(t), ident, source, name, tag=tag, ip=ip, ua=ua, read_only=ro, request=request)


def instance_credential_exfiltration_outside(run: Run) -> Scenario:
    """SSRF on web-3 leaks its instance credentials; they are used from a laptop at home."""
    w, tag = run.world, "scenario:instance-credential-exfiltration-outside"
    role, ip = _instance_role(run, "web-3", "web-instance"), w.ips["exfil_laptop"]
    ident = role.identity(w)
    # web-3 itself, from its public address in EC2's range: benign, must stay quiet
    _own_use(
        run, ident, w.ips["web3_public"], "background:instance-roles/web-3", BOTO3_UA, run.start + 60, 420
    )
    _calls(run, run.start + 3600, ident, _STOLEN_CALLS, tag=tag, ip=ip, ua=MAC_CLI_UA, gap=17)
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.OutsideAWS",
        "cloudtrail",
        "AccessKey",
        role.access_key,
        {**_role_key(role, ip), "instance_id": role.session},
        f"web-3's instance-role session ({role.session}, ec2RoleDelivery 2.0) is used from {ip}, outside AWS",
    )


def instance_credential_exfiltration_inside(run: Run) -> Scenario:
    """The CI runner's credentials are used from an instance in another AWS account, through
    that account's VPC endpoints."""
    w, tag = run.world, "scenario:instance-credential-exfiltration-inside"
    role = _instance_role(run, "ci-runner", "ci-runner-instance")
    ident = role.identity(w)
    _own_use(
        run,
        ident,
        w.ips["nat_gateway"],
        "background:instance-roles/ci-runner",
        BOTO3_UA,
        run.start + 200,
        600,
    )
    ip, endpoint = w.ips["inside_attacker"], ("vpce-" + w.ids.hex(17), w.other_account_id)
    secret = f"arn:aws:secretsmanager:us-east-1:{w.account_id}:secret:prod/deploy-key-Xy12Ab"
    calls: Calls = (
        ("sts.amazonaws.com", "GetCallerIdentity", True, "sts.get-caller-identity", None),
        ("secretsmanager.amazonaws.com", "ListSecrets", True, "secretsmanager.list-secrets", None),
        (
            "secretsmanager.amazonaws.com",
            "GetSecretValue",
            True,
            "secretsmanager.get-secret-value",
            {"secretId": secret},
        ),
        ("ssm.amazonaws.com", "DescribeParameters", True, "ssm.describe-parameters", None),
    )
    _calls(
        run, run.start + 5600, ident, calls, tag=tag, ip=ip, ua=UBUNTU_CLI_UA, gap=21, vpc_endpoint=endpoint
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:IAMUser/InstanceCredentialExfiltration.InsideAWS",
        "cloudtrail",
        "AccessKey",
        role.access_key,
        {**_role_key(role, ip), "instance_id": role.session, "remote_account_id": w.other_account_id},
        f"the CI runner's instance credentials are used through {endpoint[0]}, owned by account {w.other_account_id}",
    )


def _compute_role(run: Run, service: str, role_name: str, session: str, t0: int, tag: str) -> Role:
    """The role session ``service`` (lambda.amazonaws.com, ecs-tasks.amazonaws.com) makes for a
    function or task: its ``AssumeRole`` event, whose response hands out the ``ASIA`` key."""
    w = run.world
    role = Role(role_name, w.ids.key("AROA"), session, w.ids.key("ASIA"), t0)
    run.trail.service_call(
        t0,
        service,
        "sts.amazonaws.com",
        "AssumeRole",
        tag=tag,
        request={"roleArn": w.arn("role", role.name), "roleSessionName": session},
        response={
            "credentials": {
                "accessKeyId": role.access_key,
                "sessionToken": w.ids.token(96),
                "expiration": "Nov 1, 2026, 12:50:00 PM",
            },
            "assumedRoleUser": {
                "assumedRoleId": f"{role.role_id}:{session}",
                "arn": f"arn:aws:sts::{w.account_id}:assumed-role/{role.name}/{session}",
            },
        },
    )
    return role


def resource_credential_exfiltration_outside(run: Run) -> Scenario:
    """A Lambda function's role session (issued by lambda.amazonaws.com's AssumeRole) is used from
    outside AWS after its environment leaked."""
    w, tag = run.world, "scenario:resource-credential-exfiltration-outside"
    fn, t0 = "invoice-processor", run.start + 3000
    role = _compute_role(run, "lambda.amazonaws.com", "invoice-processor-role", fn, t0, tag)
    ident = role.identity(w)
    _own_use(
        run,
        ident,
        w.ips["lambda_egress"],
        "background:lambda-functions/own-use",
        LAMBDA_BOTO3_UA,
        t0 + 2,
        300,
    )
    ip = w.ips["lambda_exfil"]
    _calls(run, t0 + 1900, ident, _STOLEN_CALLS, tag=tag, ip=ip, ua=MAC_CLI_UA, gap=23)
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.OutsideAWS",
        "cloudtrail",
        "AccessKey",
        role.access_key,
        _role_key(role, ip),
        f"the {fn} Lambda function's credentials are used from {ip}, outside AWS",
    )


def resource_credential_exfiltration_inside(run: Run) -> Scenario:
    """An ECS task's role session (issued by ecs-tasks.amazonaws.com) is used from another AWS
    account, through that account's VPC endpoint."""
    w, tag = run.world, "scenario:resource-credential-exfiltration-inside"
    task, t0 = w.ids.hex(32), run.start + 3300
    role = _compute_role(run, "ecs-tasks.amazonaws.com", "orders-api-task", task, t0, tag)
    ident = role.identity(w)
    _own_use(
        run, ident, w.ips["nat_gateway"], "background:instance-roles/ecs-task", ECS_BOTO3_UA, t0 + 5, 540
    )
    ip, endpoint = w.ips["inside_attacker"], ("vpce-" + w.ids.hex(17), w.other_account_id)
    _calls(
        run, t0 + 3400, ident, _STOLEN_CALLS, tag=tag, ip=ip, ua=UBUNTU_CLI_UA, gap=19, vpc_endpoint=endpoint
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:IAMUser/ResourceCredentialExfiltration.InsideAWS",
        "cloudtrail",
        "AccessKey",
        role.access_key,
        {**_role_key(role, ip), "remote_account_id": w.other_account_id},
        f"an ECS task's credentials are used through {endpoint[0]}, owned by account {w.other_account_id}",
    )


_RUN_INSTANCES: Final = {
    "instancesSet": {"items": [{"imageId": "ami-0c7217cdde317cfec", "minCount": 1, "maxCount": 8}]},
    "instanceType": "p3.16xlarge",
    "blockDeviceMapping": {},
    "monitoring": {"enabled": False},
    "disableApiTermination": False,
    "disableApiStop": False,
    "clientToken": "f0b1c2d3-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
}


def _feed_scenario(
    run: Run,
    name: str,
    finding: str,
    user: str,
    ip_name: str,
    t: int,
    calls: Calls,
    what: str,
) -> Scenario:
    w, tag = run.world, f"scenario:{name}"
    person, ip = w.people[user], w.ips[ip_name]
    _calls(run, run.start + t, iam_user(w, person), calls, tag=tag, ip=ip, ua=UBUNTU_CLI_UA, gap=11)
    return Scenario(name, finding, "cloudtrail", "AccessKey", person.access_key_id, _key(person, ip), what)


def iam_malicious_feed_recon(run: Run) -> Scenario:
    calls: Calls = (
        ("sts.amazonaws.com", "GetCallerIdentity", True, "sts.get-caller-identity", None),
        (
            "iam.amazonaws.com",
            "ListAttachedUserPolicies",
            True,
            "iam.list-attached-user-policies",
            {"userName": "partner-sync"},
        ),
        ("ec2.amazonaws.com", "DescribeRegions", True, "ec2.describe-regions", {"regionSet": {}}),
        ("s3.amazonaws.com", "ListBuckets", True, "s3.ls", {"Host": "s3.us-east-1.amazonaws.com"}),
    )
    return _feed_scenario(
        run, "iam-malicious-feed-recon", "Recon:IAMUser/MaliciousIPCaller", "partner-sync", "malicious_iam", 4300, calls,
        "partner-sync's key enumerates policies, regions and buckets from an address on the malicious feed",
    )  # fmt: skip


def iam_malicious_feed_caller(run: Run) -> Scenario:
    calls: Calls = (
        (
            "ec2.amazonaws.com",
            "ImportKeyPair",
            False,
            "ec2.import-key-pair",
            {"keyName": "ops", "publicKeyMaterial": "<sensitiveDataRemoved>"},
        ),
        ("ec2.amazonaws.com", "RunInstances", False, "ec2.run-instances", _RUN_INSTANCES),
    )
    return _feed_scenario(
        run, "iam-malicious-feed-caller", "UnauthorizedAccess:IAMUser/MaliciousIPCaller", "partner-sync", "malicious_iam", 4400, calls,
        "partner-sync's key imports a key pair and launches eight GPU instances from an address on the malicious feed",
    )  # fmt: skip


def iam_tor_recon(run: Run) -> Scenario:
    calls: Calls = (
        ("iam.amazonaws.com", "ListUsers", True, "iam.list-users", None),
        ("iam.amazonaws.com", "ListRoles", True, "iam.list-roles", None),
        (
            "iam.amazonaws.com",
            "GetAccountAuthorizationDetails",
            True,
            "iam.get-account-authorization-details",
            None,
        ),
        (
            "ec2.amazonaws.com",
            "DescribeSecurityGroups",
            True,
            "ec2.describe-security-groups",
            {"securityGroupSet": {}, "securityGroupIdSet": {}},
        ),
    )
    return _feed_scenario(
        run, "iam-tor-recon", "Recon:IAMUser/TorIPCaller", "qa-automation", "tor_iam", 5200, calls,
        "qa-automation's key lists users, roles and security groups from a Tor exit",
    )  # fmt: skip


def iam_tor_caller(run: Run) -> Scenario:
    login = {"userName": "qa-automation", "passwordResetRequired": False}
    inline = {
        "userName": "qa-automation",
        "policyName": "qa-extra",
        "policyDocument": '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
    }
    calls: Calls = (
        ("iam.amazonaws.com", "CreateLoginProfile", False, "iam.create-login-profile", login),
        ("iam.amazonaws.com", "PutUserPolicy", False, "iam.put-user-policy", inline),
    )
    return _feed_scenario(
        run, "iam-tor-caller", "UnauthorizedAccess:IAMUser/TorIPCaller", "qa-automation", "tor_iam", 5300, calls,
        "qa-automation's key gives itself a console password and an admin inline policy from a Tor exit",
    )  # fmt: skip


def portscan(run: Run) -> Scenario:
    """An outbound SYN scan of 300 ports of one host; egress is locked down, so most are REJECT."""
    w, tag = run.world, "scenario:portscan"
    host, target = w.hosts["scanner"], w.ips["portscan_target"]
    common = [22, 80, 443]
    others = run.vec.sample(arange(1, 1025).filter(~arange(1, 1025).is_in(common)), 297)
    ports = pl.concat([pl.Series(common, dtype=pl.Int64), others]).sort()
    n = len(ports)
    start = run.times(n, run.start + 1800, 240)
    allowed = ports.is_in([22, 80, 443, 53, 123])
    open_ = ports.is_in([22, 80, 443])
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=where(run.vec.random(n) < 0.9, 47_223, 47_224),
        server_ip=target,
        server_port=ports,
        protocol=6,
        start=start,
        end=start + run.vec.integers(0, 3, n),
        c_packets=where(open_, 2, 1),
        c_bytes=where(open_, 84, 44),
        c_flags=where(open_, SYN | RST, SYN),
        s_packets=where(allowed, 1, 0),
        s_bytes=where(open_, 44, 40),
        s_flags=where(open_, 18, RST),
        action=where(allowed, "ACCEPT", "REJECT"),
        internet=True,
        tag=tag,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Recon:EC2/Portscan",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        {
            "instance_id": str(host.instance_id),
            "interface_id": host.eni,
            "remote_ip": target,
            "direction": "OUTBOUND",
        },
        f"{host.name} SYN-scans {n} ports of {target} in four minutes",
    )


def _ssh_attempts(run: Run, n: int, t0: int, length: int) -> dict[str, Any]:
    start = run.times(n, t0, length)
    return {
        "client_port": run.vec.sample(arange(32768, 61000), n),
        "server_port": 22,
        "protocol": 6,
        "start": start,
        "end": start + run.vec.integers(2, 9, n),
        "c_packets": run.vec.integers(11, 21, n),
        "c_bytes": run.vec.integers(2100, 3600, n),
        "c_flags": SYN_FIN,
        "s_packets": run.vec.integers(9, 17, n),
        "s_bytes": run.vec.integers(2600, 4200, n),
        "s_flags": SYNACK_FIN,
        "action": "ACCEPT",
        "internet": True,
    }


def ssh_brute_force_target(run: Run) -> Scenario:
    w, tag = run.world, "scenario:ssh-brute-force-target"
    host, attacker = w.hosts["bastion"], w.ips["ssh_attacker"]
    run.sessions(
        host,
        "server",
        client_ip=attacker,
        server_ip=host.ip,
        tag=tag,
        **_ssh_attempts(run, 160, run.start + 2700, 360),
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:EC2/SSHBruteForce",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        {
            "instance_id": str(host.instance_id),
            "interface_id": host.eni,
            "remote_ip": attacker,
            "direction": "INBOUND",
        },
        f"{attacker} tries 160 SSH logins on {host.name} (custom v5 flow log) in six minutes",
    )


def ssh_brute_force_actor(run: Run) -> Scenario:
    w, tag = run.world, "scenario:ssh-brute-force-actor"
    host, victim = w.hosts["ssh-actor"], w.ips["ssh_victim"]
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        server_ip=victim,
        tag=tag,
        **_ssh_attempts(run, 120, run.start + 4200, 300),
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:EC2/SSHBruteForce",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        {
            "instance_id": str(host.instance_id),
            "interface_id": host.eni,
            "remote_ip": victim,
            "direction": "OUTBOUND",
        },
        f"{host.name} tries 120 SSH logins on outside host {victim} in five minutes",
    )


def ec2_malicious_ip_caller(run: Run) -> Scenario:
    """A beacon to a host inside a listed CIDR every minute, port 8009 as the official tester uses."""
    w, tag = run.world, "scenario:ec2-malicious-ip-caller"
    host, c2 = w.hosts["beacon"], w.ips["threat_cidr_host"]
    n = 40
    start = run.start + 4800 + arange(n) * 60 + run.vec.integers(0, 5, n)
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=run.ephemeral(n),
        server_ip=c2,
        server_port=8009,
        protocol=6,
        start=start,
        end=start + 1,
        c_packets=6,
        c_bytes=run.vec.integers(400, 900, n),
        c_flags=SYN_FIN,
        s_packets=5,
        s_bytes=run.vec.integers(300, 2000, n),
        s_flags=SYNACK_FIN,
        action="ACCEPT",
        internet=True,
        tag=tag,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "UnauthorizedAccess:EC2/MaliciousIPCaller.Custom",
        "vpc_flow",
        "Instance",
        str(host.instance_id),
        {
            "instance_id": str(host.instance_id),
            "interface_id": host.eni,
            "remote_ip": c2,
            "list_entry": w.ips["threat_cidr"],
            "direction": "OUTBOUND",
        },
        f"{host.name} beacons to {c2}:8009, inside the listed block {w.ips['threat_cidr']}",
    )


MINING_POOLS: Final = ("pool.supportxmr.com", "xmr.nanopool.org", "xmr-eu1.nanopool.org")


def bitcoin_tool_dns(run: Run) -> Scenario:
    w, tag = run.world, "scenario:bitcoin-tool-dns"
    host = w.hosts["miner"]
    pools = {
        "pool.supportxmr.com": w.ips["pool_supportxmr"],
        "xmr.nanopool.org": w.ips["pool_nanopool"],
        "xmr-eu1.nanopool.org": w.ips["pool_nanopool"],
    }
    n = 24
    times = run.start + 900 + arange(n) * 240 + run.vec.integers(0, 30, n)
    names = [MINING_POOLS[i % 3] for i in range(n)]
    run.queries(
        host,
        time=times,
        query_name=[f"{q}." for q in names],
        query_type="A",
        rcode="NOERROR",
        answers=[answers_json([pools[q]], "A") for q in names],
        srcport=run.ephemeral(n),
        tag=tag,
    )
    # the miner's stratum connection: one long session reported per ten-minute window
    starts = run.start + 960 + arange(9) * 600
    run.sessions(
        host,
        "client",
        client_ip=host.ip,
        client_port=41_870,
        server_ip=pools["pool.supportxmr.com"],
        server_port=3333,
        protocol=6,
        start=starts,
        end=starts + 599,
        c_packets=run.vec.integers(300, 400, 9),
        c_bytes=run.vec.integers(40_000, 60_000, 9),
        c_flags=0,
        s_packets=run.vec.integers(250, 350, 9),
        s_bytes=run.vec.integers(60_000, 90_000, 9),
        s_flags=0,
        action="ACCEPT",
        internet=True,
        tag="scenario:bitcoin-tool-dns/stratum",
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "CryptoCurrency:EC2/BitcoinTool.B!DNS",
        "dns",
        "Instance",
        str(host.instance_id),
        {"instance_id": str(host.instance_id), "domain": "pool.supportxmr.com"},
        f"{host.name} resolves Monero pools ({', '.join(MINING_POOLS)}) every few minutes",
    )


def malicious_domain_custom(run: Run) -> Scenario:
    w, tag = run.world, "scenario:malicious-domain-custom"
    host = w.hosts["phished"]
    name = f"dl.{THREAT_DOMAIN}"
    n = 6
    times = run.start + 3600 + arange(n) * 97
    run.queries(
        host,
        time=times,
        query_name=[f"{name}.", f"{name}."] * 3,
        query_type=["A", "AAAA"] * 3,
        rcode="NOERROR",
        answers=[answers_json([w.ips["phish_answer"]], "A"), "[]"] * 3,
        srcport=run.ephemeral(n),
        tag=tag,
    )
    return Scenario(
        tag.removeprefix("scenario:"),
        "Impact:EC2/MaliciousDomainRequest.Custom",
        "dns",
        "Instance",
        str(host.instance_id),
        {"instance_id": str(host.instance_id), "domain": name, "list_entry": THREAT_DOMAIN},
        f"{host.name} resolves {name}, a subdomain of the listed {THREAT_DOMAIN}",
    )


SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    root_credential_usage,
    cloudtrail_logging_disabled,
    pentest_kali,
    pentest_parrot,
    pentest_pentoo,
    iam_malicious_ip_recon,
    iam_malicious_ip_caller,
    short_term_root_credential_usage,
    password_policy_change,
    bedrock_logging_disabled,
    instance_credential_exfiltration_outside,
    instance_credential_exfiltration_inside,
    resource_credential_exfiltration_outside,
    resource_credential_exfiltration_inside,
    iam_malicious_feed_recon,
    iam_malicious_feed_caller,
    iam_tor_recon,
    iam_tor_caller,
    portscan,
    *PROBE_SCENARIOS,
    ssh_brute_force_target,
    ssh_brute_force_actor,
    *BRUTE_FORCE_SCENARIOS,
    *DOS_SCENARIOS,
    ec2_malicious_ip_caller,
    bitcoin_tool_dns,
    malicious_domain_custom,
    *DNS_SIGNATURE_SCENARIOS,
    *DNS_MODEL_SCENARIOS,
    *S3_SCENARIOS,
    *INTEL_SCENARIOS,
)
