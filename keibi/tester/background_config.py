"""Benign CloudTrail look-alikes of the policy and credential scenarios. They must raise nothing.

Terraform puts bucket policies that name who may read (another account, a service, anyone but
only through the account's VPC endpoint or from inside the organisation), turns logging and
public access blocks on and grants the log-delivery group; an intern's attempt to delete a
public access block is denied; an admin tightens the password policy to the CIS benchmark; a
data engineer points Bedrock invocation logging at a bucket; Lambda functions use their own
credentials from AWS's addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from keibi.tester.cloudtrail import (
    CONSOLE_UA,
    LAMBDA_BOTO3_UA,
    TERRAFORM_UA,
    UBUNTU_CLI_UA,
    Role,
    console_user,
    iam_user,
)
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.s3 import (
    LOG_DELIVERY,
    XMLNS,
    account_public_access_block,
    acl,
    bucket_arn,
    bucket_call,
    group_grant,
    policy,
    public_access_block,
)

TERRAFORM_S3_UA: Final = TERRAFORM_UA.replace("api/ec2#1.181.0", "api/s3#1.65.0")


def _bucket_changes(run: Run) -> list[tuple[str, str, dict[str, Any]]]:
    """(bucket, eventName, requestParameters) of one ``terraform apply``."""
    w = run.world
    dr_account = str(run.rng.randrange(100_000_000_000, 999_999_999_999))
    vpce = "vpce-" + w.ids.hex(17)
    org = "o-" + w.ids.hex(10)
    cross_account = policy(
        {
            "Sid": "DisasterRecoveryRead",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{dr_account}:root"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [bucket_arn("acme-backups"), f"{bucket_arn('acme-backups')}/*"],
        }
    )
    log_delivery = policy(
        {
            "Sid": "S3ServerAccessLogsPolicy",
            "Effect": "Allow",
            "Principal": {"Service": "logging.s3.amazonaws.com"},
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn('acme-logs')}/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": w.account_id}},
        }
    )
    vpce_only = policy(
        {
            "Sid": "ReadThroughOurEndpoint",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"{bucket_arn('acme-prod-assets')}/*",
            "Condition": {"StringEquals": {"aws:SourceVpce": vpce}},
        },
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [bucket_arn("acme-prod-assets"), f"{bucket_arn('acme-prod-assets')}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    )
    org_only = policy(
        {
            "Sid": "OrganisationRead",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [bucket_arn("acme-shared-datasets"), f"{bucket_arn('acme-shared-datasets')}/*"],
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": org}},
        }
    )
    logging_on = {
        "xmlns": XMLNS,
        "LoggingEnabled": {"TargetBucket": "acme-logs", "TargetPrefix": "s3/acme-prod-assets/"},
    }
    return [
        ("acme-backups", "PutBucketPolicy", {"bucketPolicy": cross_account, "policy": ""}),
        ("acme-logs", "PutBucketPolicy", {"bucketPolicy": log_delivery, "policy": ""}),
        ("acme-prod-assets", "PutBucketPolicy", {"bucketPolicy": vpce_only, "policy": ""}),
        ("acme-shared-datasets", "PutBucketPolicy", {"bucketPolicy": org_only, "policy": ""}),
        ("acme-prod-assets", "PutBucketLogging", {"logging": "", "BucketLoggingStatus": logging_on}),
        (
            "acme-backups",
            "PutBucketPublicAccessBlock",
            {"publicAccessBlock": "", "PublicAccessBlockConfiguration": public_access_block(True)},
        ),
        (
            "acme-logs",
            "PutBucketAcl",
            {
                "acl": "",
                "AccessControlPolicy": acl(
                    w, group_grant(LOG_DELIVERY, "WRITE"), group_grant(LOG_DELIVERY, "READ_ACP")
                ),
            },
        ),
    ]


def s3_config(run: Run) -> Background:
    w, tag = run.world, "background:s3-config"
    deployer = Role(
        "ci-deployer", w.ids.key("AROA"), "GitHubActions-deploy", w.ids.key("ASIA"), run.start + 4900
    )
    ident, ip = deployer.identity(w), w.ips["office2"]
    t = run.start + 5000
    for i, (bucket, name, params) in enumerate(_bucket_changes(run)):
        bucket_call(
            run.trail, t + 4 * i, ident, name, bucket, tag=tag, ip=ip, ua=TERRAFORM_S3_UA, params=params
        )
    account_public_access_block(run.trail, t + 40, ident, True, tag=tag, ip=ip, ua=TERRAFORM_S3_UA)
    joe = w.people["intern-joe"]
    bucket_call(
        run.trail,
        run.start + 2300,
        iam_user(w, joe),
        "DeleteBucketPublicAccessBlock",
        "acme-prod-assets",
        tag="background:s3-config/denied",
        ip=joe.ip,
        ua=UBUNTU_CLI_UA.format(command="s3api.delete-public-access-block"),
        params={"publicAccessBlock": ""},
        error=("AccessDenied", "Access Denied"),
    )
    return Background(
        "s3-config",
        "cloudtrail",
        "Terraform puts bucket policies granting a named account, a service, or * only with "
        "aws:SourceVpce / aws:PrincipalOrgID (plus a Deny to *), enables access logging and "
        "public access blocks, grants LogDelivery; an intern's DeleteBucketPublicAccessBlock is denied",
    )


def account_settings(run: Run) -> Background:
    w, tag = run.world, "background:account-settings"
    alice = w.people["alice"]
    t = run.start + 2000
    cis = {
        "minimumPasswordLength": 14,
        "requireSymbols": True,
        "requireNumbers": True,
        "requireUppercaseCharacters": True,
        "requireLowercaseCharacters": True,
        "allowUsersToChangePassword": True,
        "maxPasswordAge": 90,
        "passwordReusePrevention": 24,
        "hardExpiry": False,
    }
    run.trail.call(
        t,
        console_user(w, alice, w.ids.key("ASIA"), t - 300),
        "iam.amazonaws.com",
        "UpdateAccountPasswordPolicy",
        tag=tag,
        ip=alice.ip,
        ua=CONSOLE_UA,
        read_only=False,
        request=cis,
    )
    eng = w.people["data-eng"]
    logging = {
        "loggingConfig": {
            "s3Config": {"bucketName": "acme-logs", "keyPrefix": "bedrock/"},
            "textDataDeliveryEnabled": True,
            "imageDataDeliveryEnabled": True,
            "embeddingDataDeliveryEnabled": True,
        }
    }
    for dt, name, request in (
        (0, "GetModelInvocationLoggingConfiguration", None),
        (35, "PutModelInvocationLoggingConfiguration", logging),
    ):
        run.trail.call(
            t + 1200 + dt,
            iam_user(w, eng),
            "bedrock.amazonaws.com",
            name,
            tag=tag,
            ip=eng.ip,
            ua=UBUNTU_CLI_UA.format(command="bedrock.put-model-invocation-logging-configuration"),
            read_only=request is None,
            request=request,
        )
    return Background(
        "account-settings",
        "cloudtrail",
        "an admin sets the password policy to the CIS benchmark; Bedrock invocation logging is sent to a bucket",
    )


def lambda_functions(run: Run) -> Background:
    """Each cold start: lambda.amazonaws.com assumes the function's role (session named after the
    function), then the function calls with that key from an AWS address of the region."""
    w, tag = run.world, "background:lambda-functions"
    for fn, calls in (
        ("report-builder", (("s3.amazonaws.com", "ListBuckets"), ("kms.amazonaws.com", "GenerateDataKey"))),
        ("slack-notifier", (("secretsmanager.amazonaws.com", "GetSecretValue"),)),
    ):
        role_id = w.ids.key("AROA")
        for start in range(run.start + run.rng.randrange(600), run.end, 1800):
            key = w.ids.key("ASIA")
            run.trail.service_call(
                start,
                "lambda.amazonaws.com",
                "sts.amazonaws.com",
                "AssumeRole",
                tag=tag,
                request={"roleArn": w.arn("role", f"{fn}-role"), "roleSessionName": fn},
                response={
                    "credentials": {
                        "accessKeyId": key,
                        "sessionToken": w.ids.token(96),
                        "expiration": "Nov 1, 2026, 12:00:00 PM",
                    },
                    "assumedRoleUser": {
                        "assumedRoleId": f"{role_id}:{fn}",
                        "arn": f"arn:aws:sts::{w.account_id}:assumed-role/{fn}-role/{fn}",
                    },
                },
            )
            ident = Role(f"{fn}-role", role_id, fn, key, start).identity(w)
            ip = w.ids.aws_ip()
            for k, t in enumerate(range(start + 1, min(start + 1500, run.end), 120)):
                source, name = calls[k % len(calls)]
                run.trail.call(
                    float(t),
                    ident,
                    source,
                    name,
                    tag=tag,
                    ip=ip,
                    ua=LAMBDA_BOTO3_UA,
                    read_only=True,
                    request={"Host": "s3.us-east-1.amazonaws.com"} if source.startswith("s3.") else None,
                )
    return Background(
        "lambda-functions",
        "cloudtrail",
        "Lambda functions' role sessions (AssumeRole by lambda.amazonaws.com) used from AWS addresses",
    )


CONFIG: Final[tuple[Callable[[Run], Background], ...]] = (s3_config, account_settings, lambda_functions)
