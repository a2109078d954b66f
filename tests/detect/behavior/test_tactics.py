"""The API → tactic table: every row parses, GuardDuty's examples map to their tactic, overrides win."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.detect.api_classes import parse_rules
from keibi.detect.behavior.tactics import TACTICS, tactic, tactic_rules

CATALOGUE = Path(__file__).resolve().parents[3] / "keibi" / "detect" / "data" / "finding_types.json"
HEADER = "event_source,event_name,tactic,note\n"

# Where each API GuardDuty names as an example is logged (CloudTrail's eventSource).
EXAMPLE_SOURCES = {
    "GetPasswordData": "ec2.amazonaws.com",
    "GetSecretValue": "secretsmanager.amazonaws.com",
    "BatchGetSecretValue": "secretsmanager.amazonaws.com",
    "GenerateDbAuthToken": "rds.amazonaws.com",
    "DeleteFlowLogs": "ec2.amazonaws.com",
    "DisableAlarmActions": "monitoring.amazonaws.com",
    "StopLogging": "cloudtrail.amazonaws.com",
    "DescribeInstances": "ec2.amazonaws.com",
    "GetRolePolicy": "iam.amazonaws.com",
    "ListAccessKeys": "iam.amazonaws.com",
    "PutBucketReplication": "s3.amazonaws.com",
    "CreateSnapshot": "ec2.amazonaws.com",
    "RestoreDBInstanceFromDBSnapshot": "rds.amazonaws.com",
    "DeleteSecurityGroup": "ec2.amazonaws.com",
    "UpdateUser": "iam.amazonaws.com",
    "PutBucketPolicy": "s3.amazonaws.com",
    "StartSession": "ssm.amazonaws.com",
    "GetAuthorizationToken": "ecr.amazonaws.com",
    "GetFederationToken": "sts.amazonaws.com",
    "CreateAccessKey": "iam.amazonaws.com",
    "ImportKeyPair": "ec2.amazonaws.com",
    "ModifyInstanceAttribute": "ec2.amazonaws.com",
    "AssociateIamInstanceProfile": "ec2.amazonaws.com",
    "AddUserToGroup": "iam.amazonaws.com",
    "PutUserPolicy": "iam.amazonaws.com",
}


def _tactics(pairs: list[tuple[str | None, str | None]]) -> list[Any]:
    frame = pl.DataFrame(pairs, schema={"s": pl.String, "n": pl.String}, orient="row")
    return frame.select(tactic(pl.col("s"), pl.col("n"))).to_series().to_list()


def _trigger_examples() -> list[tuple[str, str]]:
    """(API, tactic) for every example API the catalogue's AnomalousBehavior triggers name."""
    types = json.loads(CATALOGUE.read_text())["finding_types"]
    out = []
    for t in types:
        name = t["type"]
        if not name.endswith(":IAMUser/AnomalousBehavior"):
            continue
        examples = re.search(r"\(e\.g\. (.*?)\)\s+called", t["trigger"])
        assert examples, name
        out += [(api, name.split(":")[0]) for api in re.findall(r"\b[A-Z][A-Za-z]+\b", examples.group(1))]
    return out


EXAMPLES = _trigger_examples()


def test_table_parses_and_uses_every_tactic() -> None:
    rules = tactic_rules()
    assert rules is tactic_rules()
    assert len(rules) >= 250
    assert {r.api_class for r in rules} == set(TACTICS)


def test_catalogue_names_eight_tactics_with_examples() -> None:
    assert {t for _, t in EXAMPLES} == set(TACTICS)
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize(("api", "expected"), EXAMPLES, ids=[a for a, _ in EXAMPLES])
def test_guardduty_examples_map_to_their_tactic(api: str, expected: str) -> None:
    assert _tactics([(EXAMPLE_SOURCES[api], api)]) == [expected]


@pytest.mark.parametrize(
    ("source", "name", "expected"),
    [
        ("ec2.amazonaws.com", "DescribeSecurityGroups", "Discovery"),  # prefix row
        ("sts.amazonaws.com", "GetCallerIdentity", "Discovery"),
        ("ssm.amazonaws.com", "GetParametersByPath", "CredentialAccess"),  # exact beats Get*
        ("lambda.amazonaws.com", "UpdateFunctionCode20150331v2", "Persistence"),  # versioned name
        ("lambda.amazonaws.com", "GetFunction20150331v2", "Discovery"),
        ("iam.amazonaws.com", "CreatePolicyVersion", "PrivilegeEscalation"),  # exact beats iam Create*
        ("iam.amazonaws.com", "CreateLoginProfile", "Persistence"),
        ("iam.amazonaws.com", "DeleteRolePermissionsBoundary", "PrivilegeEscalation"),  # beats *,Delete*
        ("iam.amazonaws.com", "DeleteUser", "Impact"),
        ("guardduty.amazonaws.com", "DeleteDetector", "DefenseEvasion"),  # named Delete* beats *,Delete*
        ("kms.amazonaws.com", "DisableKey", "Impact"),  # exact beats *,Disable*
        ("securityhub.amazonaws.com", "DisableSecurityHub", "DefenseEvasion"),
        ("ec2.amazonaws.com", "CopySnapshot", "Exfiltration"),
        ("bedrock.amazonaws.com", "InvokeModel", "Impact"),
        ("monitoring.amazonaws.com", "PutMetricData", None),  # agents' chatter: no tactic
        ("logs.amazonaws.com", "PutLogEvents", None),
        ("ec2.amazonaws.com", "CreateTags", None),
        (None, "ListUsers", "Discovery"),  # a null source matches only * rows
        ("iam.amazonaws.com", None, None),
    ],
)
def test_overrides_and_gaps(source: str | None, name: str | None, expected: str | None) -> None:
    assert _tactics([(source, name)]) == [expected]


def test_a_bad_tactic_names_the_line() -> None:
    with pytest.raises(ValueError, match=r"^t\.csv:2: unknown tactic 'Execution'"):
        parse_rules(HEADER + "*,SendCommand,Execution,\n", "t.csv", classes=TACTICS, column="tactic")
    with pytest.raises(ValueError, match="expected header event_source,event_name,tactic,note"):
        parse_rules("event_source,event_name,class,note\n", "t.csv", classes=TACTICS, column="tactic")
