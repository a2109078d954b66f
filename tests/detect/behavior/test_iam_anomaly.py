"""<Tactic>:IAMUser/AnomalousBehavior on weeks of real CloudTrail files, scanned through the pipeline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.detect import DetectSettings
from keibi.detect.behavior._callers import agent_family, network
from keibi.detect.behavior.iam_anomaly import TYPES
from keibi.findings import validate
from keibi.store import Store
from tests.detect._frames import check, samples
from tests.detect.behavior._history import (
    ATTACKER_IP,
    BOTO_UA,
    HOME_IP,
    additional,
    day,
    role_call,
    scan_history,
    user_call,
)
from tests.intel._geo_dbs import write_db

ANOMALY_TYPES = {t.type for t in TYPES.values()}
TOOL_UA = "python-requests/2.31.0"
CI_IP = "88.198.0.10"  # the CI runners' egress address (DE)
ROUTINE = [
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("s3.amazonaws.com", "ListBuckets"),
    ("iam.amazonaws.com", "ListUsers"),
]
ATTACK = [
    ("iam.amazonaws.com", "ListUsers"),  # known to alice: not raised
    ("iam.amazonaws.com", "CreateAccessKey"),
    ("secretsmanager.amazonaws.com", "GetSecretValue"),
    ("cloudtrail.amazonaws.com", "StopLogging"),
    ("iam.amazonaws.com", "CreateAccessKey"),  # a repeat: same finding
]


def _baseline(days: int = 21) -> list[dict[str, Any]]:
    """Alice's routine from the office with the AWS CLI, and the CI role's deployments."""
    events = []
    for d in range(days):
        for h, (source, name) in enumerate(ROUTINE):
            events.append(user_call(day(d, 9 + h), "alice", source, name))
        for h, (source, name) in enumerate(
            [
                ("cloudformation.amazonaws.com", "DescribeStacks"),
                ("ecr.amazonaws.com", "GetAuthorizationToken"),
                ("lambda.amazonaws.com", "GetFunction20150331v2"),
            ]
        ):
            events.append(role_call(day(d, 14 + h), "ci-deploy", f"gh-{d}", source, name, ip=CI_IP))
    return events


def _attack(when_day: int = 21, user: str = "alice", ip: str = ATTACKER_IP) -> list[dict[str, Any]]:
    return [
        user_call(day(when_day, 3, m), user, source, name, ip=ip, user_agent=TOOL_UA)
        for m, (source, name) in enumerate(ATTACK)
    ]


def _anomalies(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found = {f["type"]: f for f in findings if f["type"] in ANOMALY_TYPES}
    for f in found.values():
        validate(f)
    return found


@pytest.mark.parametrize("sample", samples("behavior.iam_anomaly"), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    """Three weeks of alice's routine in one file, then one call per tactic: from a new network,
    country and tool each raises its type; from the office with her CLI, or while the account
    learns, nothing."""
    check("behavior.iam_anomaly", sample)


def test_stolen_key_after_three_weeks_raises_one_finding_per_tactic(tmp_path: Path) -> None:
    found = _anomalies(scan_history(tmp_path, cloudtrail=_baseline() + _attack()))
    assert set(found) == {
        "Persistence:IAMUser/AnomalousBehavior",
        "CredentialAccess:IAMUser/AnomalousBehavior",
        "DefenseEvasion:IAMUser/AnomalousBehavior",
    }
    persistence = found["Persistence:IAMUser/AnomalousBehavior"]
    assert persistence["service"]["count"] == 2  # both CreateAccessKey calls, one finding
    assert persistence["severity"] == 5.0
    assert persistence["resource"]["accessKeyDetails"]["userName"] == "alice"
    assert persistence["resource"]["accessKeyDetails"]["accessKeyId"].startswith("AKIAALICE")
    assert persistence["service"]["action"]["awsApiCallAction"]["api"] == "CreateAccessKey"
    info = additional(persistence)
    assert (
        info["explanation"][0] == "first call of iam:CreateAccessKey by this principal in 20 days of history"
    )
    assert "iam:CreateAccessKey had never been called in this account either" in info["explanation"]
    assert (
        "network 45.33.0.0/16 never seen for this principal (usual: 81.2.0.0/16 (frequent))"
        in info["explanation"]
    )
    assert "country US never seen for this principal (usual: GB (frequent))" in info["explanation"]
    assert (
        "user agent family python-requests/2 never seen for this principal (usual: aws-cli/2 (frequent))"
        in info["explanation"]
    )
    assert info["unusual"] == {
        "api": "iam:CreateAccessKey",
        "network": "45.33.0.0/16",
        "country": "US",
        "userAgent": "python-requests/2",
    }
    anomaly = persistence["service"]["detection"]["anomaly"]
    unusual = anomaly["unusual"]["behavior"]["principal"]
    assert unusual["userAgent"] == {
        "profileType": "FREQUENCY",
        "profileSubtype": "UNSEEN",
        "observations": {"text": ["python-requests/2"]},
    }
    usual = anomaly["profiles"]["principal"]
    assert usual["network"] == [
        {"profileType": "FREQUENCY", "profileSubtype": "FREQUENT", "observations": {"text": ["81.2.0.0/16"]}}
    ]
    assert {o["observations"]["text"][0] for o in usual["api"]} == {
        "ec2:DescribeInstances",
        "s3:ListBuckets",
        "iam:ListUsers",
    }
    assert found["DefenseEvasion:IAMUser/AnomalousBehavior"]["service"]["count"] == 1


def test_the_same_activity_inside_the_baseline_is_quiet(tmp_path: Path) -> None:
    # Alice's side project: the same calls from the same host and tool, in her first week.
    history = _baseline() + _attack(when_day=2) + _attack(when_day=21)
    assert _anomalies(scan_history(tmp_path, cloudtrail=history)) == {}


def test_new_apis_from_the_usual_office_and_tool_are_quiet(tmp_path: Path) -> None:
    usual = [
        user_call(day(21, 10, m), "alice", source, name, ip=HOME_IP)  # same /16 as the office
        for m, (source, name) in enumerate(ATTACK)
    ]
    assert _anomalies(scan_history(tmp_path, cloudtrail=_baseline() + usual)) == {}


def test_ci_role_adding_apis_from_its_usual_network_and_agent_is_quiet(tmp_path: Path) -> None:
    upgraded = BOTO_UA.replace("Boto3/1.34.69", "Boto3/1.35.2")  # a patch upgrade: same family
    new_apis = [
        ("iam.amazonaws.com", "CreateRole"),
        ("iam.amazonaws.com", "AttachRolePolicy"),
        ("lambda.amazonaws.com", "CreateFunction20150331"),
        ("lambda.amazonaws.com", "AddPermission20150331v2"),
    ]
    deploy = [
        role_call(day(21, 14, m), "ci-deploy", "gh-21", source, name, ip=CI_IP, user_agent=upgraded)
        for m, (source, name) in enumerate(new_apis)
    ]
    assert _anomalies(scan_history(tmp_path, cloudtrail=_baseline() + deploy)) == {}


def test_ci_role_session_used_from_elsewhere_is_raised(tmp_path: Path) -> None:
    stolen = [role_call(day(21, 3), "ci-deploy", "gh-20", "iam.amazonaws.com", "CreateUser", ip=ATTACKER_IP)]
    found = _anomalies(scan_history(tmp_path, cloudtrail=_baseline() + stolen))
    assert set(found) == {"Persistence:IAMUser/AnomalousBehavior"}
    info = additional(found["Persistence:IAMUser/AnomalousBehavior"])
    assert info["principal"] == "arn:aws:iam::123456789012:role/ci-deploy"  # the role, not the session
    assert set(info["unusual"]) == {"api", "network", "country"}  # same Boto3 agent


def test_new_employee_first_week_is_judged_against_the_account(tmp_path: Path) -> None:
    # Bob starts on day 19 and works like everyone: office network, AWS CLI.
    bob = [
        user_call(day(d, 10, m), "bob", source, name, ip=HOME_IP)
        for d in (19, 20, 21)
        for m, (source, name) in enumerate([*ROUTINE, ("iam.amazonaws.com", "CreateAccessKey")])
    ]
    # Dave's key, created on day 21, is used at once from a hosting network with a script.
    dave = [
        user_call(
            day(21, 4), "dave", "sts.amazonaws.com", "GetCallerIdentity", ip=ATTACKER_IP, user_agent=TOOL_UA
        ),
        user_call(
            day(21, 4, 1), "dave", "ssm.amazonaws.com", "GetParameters", ip=ATTACKER_IP, user_agent=TOOL_UA
        ),
    ]
    found = _anomalies(scan_history(tmp_path, cloudtrail=_baseline() + bob + dave))
    assert set(found) == {"Discovery:IAMUser/AnomalousBehavior", "CredentialAccess:IAMUser/AnomalousBehavior"}
    assert all(additional(f)["principal"].endswith(":user/dave") for f in found.values())
    credential = found["CredentialAccess:IAMUser/AnomalousBehavior"]
    info = additional(credential)
    assert info["baseline"] == "account"
    assert info["explanation"][0] == (
        "first call of ssm:GetParameters in this account in 20 days of history (the principal is known for "
        "0 days only, so it is judged against the account's baseline)"
    )
    assert (
        "country US never seen for this account (usual: GB (frequent), DE (frequent))" in info["explanation"]
    )
    assert set(credential["service"]["detection"]["anomaly"]["unusual"]["behavior"]) == {"account"}
    assert found["Discovery:IAMUser/AnomalousBehavior"]["severity"] == 2.0


@pytest.mark.parametrize(
    ("fields", "raised"),
    [
        ({"invoked_by": "cloudformation.amazonaws.com", "ip": "cloudformation.amazonaws.com"}, False),
        ({"invoked_by": "cloudformation.amazonaws.com"}, False),  # a service acting, from an address
        ({"ip": "AWS Internal"}, False),
        ({}, True),  # the same call made by the role itself is raised
    ],
    ids=["service-host", "invoked-by", "aws-internal", "own-call"],
)
def test_calls_aws_services_make_for_a_principal_are_not_its_behaviour(
    tmp_path: Path, fields: dict[str, Any], raised: bool
) -> None:
    options = {"ip": ATTACKER_IP, "user_agent": TOOL_UA, **fields}
    call = role_call(day(21, 5), "ci-deploy", "gh-21", "iam.amazonaws.com", "CreateUser", **options)
    found = _anomalies(scan_history(tmp_path, cloudtrail=[*_baseline(), call]))
    assert bool(found) is raised


def test_nothing_is_raised_while_the_account_learns(tmp_path: Path) -> None:
    # Ten days of history: alice is established (7 days), the account is not (14 days).
    assert _anomalies(scan_history(tmp_path, cloudtrail=_baseline(10) + _attack(when_day=10))) == {}
    settings = DetectSettings(behavior_account_learning=DetectSettings().behavior_learning)
    found = _anomalies(
        scan_history(tmp_path / "short", cloudtrail=_baseline(10) + _attack(10), settings=settings)
    )
    assert "Persistence:IAMUser/AnomalousBehavior" in found


def test_min_signals_setting(tmp_path: Path) -> None:
    # From the office network with a script: the agent and the account-wide API are two signals.
    scripted = [
        user_call(day(21, 3), "alice", "iam.amazonaws.com", "CreateAccessKey", user_agent=TOOL_UA),
    ]
    assert _anomalies(scan_history(tmp_path / "a", cloudtrail=_baseline() + scripted))
    strict = DetectSettings(iam_anomaly_min_signals=3)
    assert _anomalies(scan_history(tmp_path / "b", cloudtrail=_baseline() + scripted, settings=strict)) == {}


def test_asn_database_names_networks_and_profiles_survive_scans(tmp_path: Path) -> None:
    asn = write_db(
        tmp_path / "asn.mmdb",
        {
            "81.2.69.0/24": {
                "autonomous_system_number": 64496,
                "autonomous_system_organization": "EXAMPLE-ISP",
            },
            "45.33.32.0/24": {
                "autonomous_system_number": 64511,
                "autonomous_system_organization": "EXAMPLE-VPS",
            },
        },
        database_type="GeoLite2-ASN",
    )
    store = Store.for_data_dir(tmp_path / "data")
    try:
        # Three weeks in one scan, the attack in the next: the profile is kept in the store.
        first = scan_history(tmp_path / "history", cloudtrail=_baseline(), store=store, geoip_asn=asn)
        assert _anomalies(first) == {}
        found = _anomalies(scan_history(tmp_path / "today", cloudtrail=_attack(), store=store, geoip_asn=asn))
    finally:
        store.close()
    info = additional(found["Persistence:IAMUser/AnomalousBehavior"])
    assert info["unusual"]["network"] == "AS64511"
    assert "network AS64511 never seen for this principal (usual: AS64496 (frequent))" in info["explanation"]


@pytest.mark.parametrize(
    ("agent", "family"),
    [
        (
            "aws-cli/2.15.30 Python/3.11.8 Linux/6.5.0 exe/x86_64.ubuntu.22 command/ec2.get-console-output",
            "aws-cli/2",
        ),
        ("aws-cli/1.32.0 Python/3.8.10 Linux/5.15 botocore/1.34.0", "aws-cli/1"),
        ("Boto3/1.34.69 md/Botocore#1.34.69 ua/2.0 os/linux#6.5.0", "Boto3/1"),
        ("[aws-sdk-go-v2/1.21.0 os/linux lang/go#1.21]", "aws-sdk-go-v2/1"),
        (
            "APN/1.0 HashiCorp/1.0 Terraform/1.5.7 (+https://www.terraform.io) terraform-provider-aws/5.31.0",
            "Terraform/1",
        ),
        ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15", "console"),
        ("console.ec2.amazonaws.com", "console"),
        ("signin.amazonaws.com", "console"),
        ("[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.488]", "console"),
        ("AWS Internal", "AWS Internal"),
        ("cloudformation.amazonaws.com", "cloudformation.amazonaws.com"),
        ("python-requests/2.31.0", "python-requests/2"),
        ("S3 Browser 9.5.5 <https://s3browser.com>", "S3 Browser/9"),
        ("Go-http-client/1.1", "Go-http-client/1"),
        ("curl", "curl"),
        (None, None),
    ],
)
def test_agent_family(agent: str | None, family: str | None) -> None:
    frame = pl.DataFrame({"ua": [agent]}, schema={"ua": pl.String})
    assert frame.select(agent_family(pl.col("ua"))).item() == family


def test_network_prefers_asn_then_aws_then_prefix() -> None:
    frame = pl.DataFrame(
        {
            "ip": ["45.33.32.156", "3.5.140.2", "2a02:c7f:d0b2::7", "10.1.2.3", "45.33.32.156"],
            "asn": [None, None, None, None, 64511],
            "svc": [None, "S3", None, None, None],
            "reg": [None, "ap-northeast-2", None, None, None],
        },
        schema={"ip": pl.String, "asn": pl.Int64, "svc": pl.String, "reg": pl.String},
    )
    found = (
        frame.select(network(pl.col("ip"), pl.col("asn"), pl.col("svc"), pl.col("reg"))).to_series().to_list()
    )
    assert found == ["45.33.0.0/16", "aws:S3:ap-northeast-2", "2a02:c7f::/32", "10.1.0.0/16", "AS64511"]
