"""S3 attack scenarios: buckets made public or unlogged, and object access from listed addresses
or penetration-testing machines (S3 data events).

Every scenario here raises its type on an S3 bucket (``resource_id`` the bucket name), except
the account-level public access block, which names no bucket (``resource_id`` the caller's key).
See ``keibi.tester.scenarios`` for how scenarios are recorded and registered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from keibi.tester.cloudtrail import UBUNTU_CLI_UA, iam_user
from keibi.tester.manifest import Scenario
from keibi.tester.run import Run
from keibi.tester.s3 import (
    AUTHENTICATED_USERS,
    XMLNS,
    account_public_access_block,
    acl,
    bucket_call,
    group_grant,
    object_call,
    policy,
)
from keibi.tester.world import Person

KALI_S3_UA: Final = (
    "aws-cli/2.23.6 md/awscrt#1.0.0.dev0 ua/2.0 os/linux#6.12.13-cloud-amd64 md/arch#x86_64 lang/python#3.13.2 "
    "md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/distrib#kali.2025 md/prompt#off "
    "md/command#{command}"
)
PARROT_S3_UA: Final = "aws-cli/2.15.0 Python/3.11.6 Linux/6.5.0-13parrot1-amd64 exe/x86_64.parrot.6 prompt/off command/{command}"
PENTOO_S3_UA: Final = (
    "aws-cli/2.15.0 Python/3.11.6 Linux/6.6.13-pentoo exe/x86_64.pentoo.2024 prompt/off command/{command}"
)

# (eventName, object key or None for ListObjects, cli command)
ObjectCalls = tuple[tuple[str, str | None, str], ...]


def _key(person: Person, ip: str, bucket: str | None) -> dict[str, str]:
    key = {
        "access_key_id": person.access_key_id,
        "principal_id": person.principal_id,
        "user_name": person.user_name,
        "remote_ip": ip,
    }
    if bucket is not None:
        key["bucket"] = bucket
    return key


def _scenario(name: str, finding: str, person: Person, ip: str, bucket: str, what: str) -> Scenario:
    return Scenario(name, finding, "cloudtrail", "S3Bucket", bucket, _key(person, ip, bucket), what)


# --- bucket configuration (management events) ----------------------------------------------------


def s3_account_bpa_disabled(run: Run) -> Scenario:
    w, tag = run.world, "scenario:s3-account-bpa-disabled"
    person = w.people["web-publisher"]
    account_public_access_block(
        run.trail,
        run.start + 1000,
        iam_user(w, person),
        False,
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA.format(command="s3control.put-public-access-block"),
    )
    return Scenario(
        "s3-account-bpa-disabled",
        "Policy:S3/AccountBlockPublicAccessDisabled",
        "cloudtrail",
        "S3Bucket",
        person.access_key_id,
        _key(person, person.ip, None),
        f"{person.user_name} turns off all four account-level S3 Block Public Access settings",
    )


def s3_bucket_bpa_deleted(run: Run) -> Scenario:
    w, tag, bucket = run.world, "scenario:s3-bucket-bpa-deleted", "acme-marketing-site"
    person = w.people["web-publisher"]
    bucket_call(
        run.trail,
        run.start + 1060,
        iam_user(w, person),
        "DeleteBucketPublicAccessBlock",
        bucket,
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA.format(command="s3api.delete-public-access-block"),
        params={"publicAccessBlock": ""},
    )
    return _scenario(
        "s3-bucket-bpa-deleted",
        "Policy:S3/BucketBlockPublicAccessDisabled",
        person,
        person.ip,
        bucket,
        f"{person.user_name} deletes the public access block of {bucket}",
    )


def s3_bucket_anonymous_access(run: Run) -> Scenario:
    w, tag, bucket = run.world, "scenario:s3-bucket-anonymous-access", "acme-marketing-site"
    person = w.people["web-publisher"]
    public_read = {
        "Sid": "PublicReadGetObject",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    bucket_call(
        run.trail,
        run.start + 1120,
        iam_user(w, person),
        "PutBucketPolicy",
        bucket,
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA.format(command="s3api.put-bucket-policy"),
        params={"bucketPolicy": policy(public_read), "policy": ""},
    )
    return _scenario(
        "s3-bucket-anonymous-access",
        "Policy:S3/BucketAnonymousAccessGranted",
        person,
        person.ip,
        bucket,
        f"{person.user_name} puts a policy on {bucket} allowing s3:GetObject to Principal * with no condition",
    )


def s3_bucket_bpa_relaxed(run: Run) -> Scenario:
    w, tag, bucket = run.world, "scenario:s3-bucket-bpa-relaxed", "acme-partner-exchange"
    person = w.people["partner-admin"]
    bucket_call(
        run.trail,
        run.start + 3900,
        iam_user(w, person),
        "PutBucketPublicAccessBlock",
        bucket,
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA.format(command="s3api.put-public-access-block"),
        params={
            "publicAccessBlock": "",
            "PublicAccessBlockConfiguration": {
                "xmlns": XMLNS,
                "RestrictPublicBuckets": False,
                "BlockPublicPolicy": False,
                "BlockPublicAcls": False,
                "IgnorePublicAcls": False,
            },
        },
    )
    return _scenario(
        "s3-bucket-bpa-relaxed",
        "Policy:S3/BucketBlockPublicAccessDisabled",
        person,
        person.ip,
        bucket,
        f"{person.user_name} sets every public access block setting of {bucket} to false",
    )


def s3_bucket_public_access(run: Run) -> Scenario:
    w, tag, bucket = run.world, "scenario:s3-bucket-public-access", "acme-partner-exchange"
    person = w.people["partner-admin"]
    bucket_call(
        run.trail,
        run.start + 3960,
        iam_user(w, person),
        "PutBucketAcl",
        bucket,
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA.format(command="s3api.put-bucket-acl"),
        params={"acl": "", "AccessControlPolicy": acl(w, group_grant(AUTHENTICATED_USERS, "READ"))},
    )
    return _scenario(
        "s3-bucket-public-access",
        "Policy:S3/BucketPublicAccessGranted",
        person,
        person.ip,
        bucket,
        f"{person.user_name} grants READ on {bucket} to AuthenticatedUsers (any AWS account)",
    )


def s3_access_logging_disabled(run: Run) -> Scenario:
    w, tag, bucket = run.world, "scenario:s3-access-logging-disabled", "acme-prod-assets"
    person = w.people["ml-engineer"]
    bucket_call(
        run.trail,
        run.start + 4700,
        iam_user(w, person),
        "PutBucketLogging",
        bucket,
        tag=tag,
        ip=person.ip,
        ua=UBUNTU_CLI_UA.format(command="s3api.put-bucket-logging"),
        params={"logging": "", "BucketLoggingStatus": {"xmlns": XMLNS}},
    )
    return _scenario(
        "s3-access-logging-disabled",
        "Stealth:S3/ServerAccessLoggingDisabled",
        person,
        person.ip,
        bucket,
        f"{person.user_name} puts an empty BucketLoggingStatus on {bucket}, turning access logging off",
    )


# --- object access (data events) ------------------------------------------------------------------


def _objects(
    run: Run, tag: str, person: Person, ip: str, bucket: str, t: int, ua: str, calls: ObjectCalls
) -> None:
    ident = iam_user(run.world, person)
    for i, (name, key, command) in enumerate(calls):
        object_call(
            run.trail,
            run.start + t + 6 * i,
            ident,
            name,
            bucket,
            key,
            tag=tag,
            ip=ip,
            ua=ua.format(command=command),
            size=run.rng.randrange(2_000, 900_000),
        )


_LOOT: Final = ("exports/customers-2026-10.csv", "exports/orders-2026-10.csv", "exports/payouts-2026-10.csv")


def _pentest(run: Run, distro: str, user: str, bucket: str, t: int, ua: str) -> Scenario:
    w, name = run.world, f"s3-pentest-{distro}"
    person, ip = w.people[user], w.ips[distro]
    calls: ObjectCalls = (
        ("ListObjects", None, "s3.ls"),
        *(("GetObject", k, "s3.cp") for k in _LOOT),
    )
    _objects(run, f"scenario:{name}", person, ip, bucket, t, ua, calls)
    return _scenario(
        name,
        f"PenTest:S3/{distro.title()}Linux",
        person,
        ip,
        bucket,
        f"{person.user_name}'s key lists and downloads {bucket} from a {distro.title()} Linux aws-cli",
    )


def s3_pentest_kali(run: Run) -> Scenario:
    return _pentest(run, "kali", "svc-reporting", "acme-analytics-exports", 2460, KALI_S3_UA)


def s3_pentest_parrot(run: Run) -> Scenario:
    return _pentest(run, "parrot", "build-bot", "acme-ci-artifacts", 2760, PARROT_S3_UA)


def s3_pentest_pentoo(run: Run) -> Scenario:
    return _pentest(run, "pentoo", "legacy-etl", "acme-etl-staging", 3060, PENTOO_S3_UA)


def _listed(
    run: Run,
    name: str,
    finding: str,
    user: str,
    ip_name: str,
    bucket: str,
    t: int,
    calls: ObjectCalls,
    what: str,
) -> Scenario:
    w = run.world
    person, ip = w.people[user], w.ips[ip_name]
    _objects(run, f"scenario:{name}", person, ip, bucket, t, UBUNTU_CLI_UA, calls)
    return _scenario(name, finding, person, ip, bucket, f"{person.user_name}'s key {what} from {ip}")


_UPLOADS: Final = "acme-customer-uploads"


def s3_malicious_discovery(run: Run) -> Scenario:
    calls: ObjectCalls = (
        ("ListObjects", None, "s3.ls"),
        ("GetObjectAcl", "kyc/passport-10023.pdf", "s3api.get-object-acl"),
        ("GetObjectAcl", "kyc/passport-10024.pdf", "s3api.get-object-acl"),
    )
    return _listed(
        run, "s3-malicious-discovery", "Discovery:S3/MaliciousIPCaller", "vendor-upload", "malicious_s3",
        _UPLOADS, 5700, calls, f"lists {_UPLOADS} and reads object ACLs, on the malicious feed,",
    )  # fmt: skip


def s3_malicious_exfiltration(run: Run) -> Scenario:
    calls: ObjectCalls = tuple(("GetObject", f"kyc/passport-{10020 + i}.pdf", "s3.cp") for i in range(5))
    return _listed(
        run, "s3-malicious-exfiltration", "Exfiltration:S3/MaliciousIPCaller", "vendor-upload", "malicious_s3",
        _UPLOADS, 5760, calls, f"downloads five objects of {_UPLOADS}, on the malicious feed,",
    )  # fmt: skip


def s3_malicious_impact(run: Run) -> Scenario:
    calls: ObjectCalls = (
        ("PutObject", "README-RESTORE-FILES.txt", "s3.cp"),
        *(("DeleteObject", f"kyc/passport-{10020 + i}.pdf", "s3.rm") for i in range(3)),
    )
    return _listed(
        run, "s3-malicious-impact", "Impact:S3/MaliciousIPCaller", "vendor-upload", "malicious_s3",
        _UPLOADS, 5820, calls, f"writes a ransom note to {_UPLOADS} and deletes objects, on the malicious feed,",
    )  # fmt: skip


_FINANCE: Final = "acme-finance-reports"


def s3_custom_discovery(run: Run) -> Scenario:
    calls: ObjectCalls = (("ListObjects", None, "s3.ls"), ("ListObjects", None, "s3.ls"))
    return _listed(
        run, "s3-custom-discovery", "Discovery:S3/MaliciousIPCaller.Custom", "analytics-ro", "threat_cidr_s3",
        _FINANCE, 6100, calls, f"lists {_FINANCE} from inside a block on the threat list,",
    )  # fmt: skip


def s3_custom_unauthorized(run: Run) -> Scenario:
    calls: ObjectCalls = (
        ("GetObject", "2026/q3/board-pack.xlsx", "s3.cp"),
        ("PutObject", "2026/q3/board-pack.xlsx", "s3.cp"),
    )
    return _listed(
        run, "s3-custom-unauthorized", "UnauthorizedAccess:S3/MaliciousIPCaller.Custom", "analytics-ro",
        "threat_cidr_s3", _FINANCE, 6160, calls, f"reads and overwrites a report in {_FINANCE}, inside a listed block,",
    )  # fmt: skip


_AVATARS: Final = "acme-user-avatars"


def s3_tor_discovery(run: Run) -> Scenario:
    calls: ObjectCalls = (
        ("ListObjects", None, "s3.ls"),
        ("GetObjectAcl", "u/4411/avatar.png", "s3api.get-object-acl"),
    )
    return _listed(
        run, "s3-tor-discovery", "Discovery:S3/TorIPCaller", "mobile-backend", "tor_s3",
        _AVATARS, 6400, calls, f"lists {_AVATARS} and reads an object ACL from a Tor exit",
    )  # fmt: skip


def s3_tor_unauthorized(run: Run) -> Scenario:
    calls: ObjectCalls = (
        ("GetObject", "u/4411/avatar.png", "s3.cp"),
        ("PutObject", "u/4411/avatar.png", "s3.cp"),
    )
    return _listed(
        run, "s3-tor-unauthorized", "UnauthorizedAccess:S3/TorIPCaller", "mobile-backend", "tor_s3",
        _AVATARS, 6460, calls, f"reads and replaces an object of {_AVATARS} from a Tor exit",
    )  # fmt: skip


S3_SCENARIOS: Final[tuple[Callable[[Run], Scenario], ...]] = (
    s3_account_bpa_disabled,
    s3_bucket_bpa_deleted,
    s3_bucket_anonymous_access,
    s3_bucket_bpa_relaxed,
    s3_bucket_public_access,
    s3_access_logging_disabled,
    s3_pentest_kali,
    s3_pentest_parrot,
    s3_pentest_pentoo,
    s3_malicious_discovery,
    s3_malicious_exfiltration,
    s3_malicious_impact,
    s3_custom_discovery,
    s3_custom_unauthorized,
    s3_tor_discovery,
    s3_tor_unauthorized,
)
