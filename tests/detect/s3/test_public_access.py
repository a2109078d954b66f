"""Policy:S3/{Account,Bucket}BlockPublicAccessDisabled, BucketAnonymousAccessGranted and
BucketPublicAccessGranted on CloudTrail samples."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.detect import ROW, DetectContext
from keibi.detect.s3.public_access import public_access
from keibi.sources.schema import CLOUDTRAIL
from tests.detect._frames import check, sample_dir, samples

DETECTOR = "s3.public_access"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def _infos(name: str) -> dict[str, dict[str, Any]]:
    found = check(DETECTOR, SAMPLES / name)
    return {key: json.loads(info) for key, info in zip(found["key"], found["info"], strict=True)}


def test_policy_info_names_the_open_statement_not_the_named_one() -> None:
    info = _infos("hit_policy_public_read.json")["static-site-assets|AIDAEXAMPLEMALLORY01"]
    assert info == {
        "publicAccess": {
            "effectivePermission": "PUBLIC",
            "permissionConfiguration": {
                "bucketLevelPermissions": {
                    "bucketPolicy": {"allowsPublicReadAccess": True, "allowsPublicWriteAccess": False}
                }
            },
            "grant": "policy statement 'PublicRead' Principal * s3:GetObject",
        }
    }


def test_open_conditions_read_write_and_not_principal() -> None:
    infos = _infos("hit_policy_open_conditions.json")
    allows = {
        key.split("|")[0]: info["publicAccess"]["permissionConfiguration"]["bucketLevelPermissions"][
            "bucketPolicy"
        ]
        for key, info in infos.items()
    }
    assert allows == {
        "shared-reports": {"allowsPublicReadAccess": True, "allowsPublicWriteAccess": False},
        "dropbox-uploads": {"allowsPublicReadAccess": False, "allowsPublicWriteAccess": True},
        "legacy-archive": {"allowsPublicReadAccess": True, "allowsPublicWriteAccess": True},
    }
    assert infos["legacy-archive|AIDAEXAMPLEMALLORY01"]["publicAccess"]["grant"].startswith(
        "policy statement '#1' NotPrincipal "
    )


def test_acl_grants_say_what_they_open() -> None:
    infos = _infos("hit_acl_all_users.json")
    grants = {key.split("|")[0]: info["publicAccess"]["grant"] for key, info in infos.items()}
    assert grants == {
        "press-kit": "ACL grant of read to group AllUsers",
        "scratch-space": "canned ACL public-read-write",
        "scratch-space-2": "ACL grant of write to group AllUsers",
    }


def test_block_public_access_info_is_the_setting_left_behind() -> None:
    infos = _infos("hit_account_block_disabled.json")
    relaxed = infos["AIDAEXAMPLEMALLORY01"]["publicAccess"]["permissionConfiguration"]
    assert relaxed == {
        "accountLevelPermissions": {
            "blockPublicAccess": {
                "blockPublicAcls": True,
                "ignorePublicAcls": True,
                "blockPublicPolicy": True,
                "restrictPublicBuckets": False,
            }
        }
    }
    deleted = infos["AROAEXAMPLEROLEID1234:deployer"]["publicAccess"]["permissionConfiguration"]
    assert set(deleted["accountLevelPermissions"]["blockPublicAccess"].values()) == {False}


def _frame(rows: Sequence[tuple[str, str | None]]) -> pl.DataFrame:
    """Bare parsed records: (event name, request parameters JSON text)."""
    base = {
        "event_time": datetime(2024, 3, 5, 11, 0, tzinfo=UTC),
        "account_id": "123456789012",
        "region": "us-east-1",
        "event_source": "s3.amazonaws.com",
        "user_type": "IAMUser",
        "principal_id": "AIDAEXAMPLE",
    }
    records = [{**base, "event_name": name, "request_parameters": params} for name, params in rows]
    return pl.DataFrame(records, schema=CLOUDTRAIL).with_row_index(ROW)


def test_many_statements_are_all_read() -> None:
    """The open statement may sit far down a long policy."""
    named = [
        {
            "Sid": f"S{i}",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{i:012d}:root"},
            "Action": "s3:GetObject",
        }
        for i in range(40)
    ]
    open_ = {"Sid": "Last", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    rows = [
        (
            "PutBucketPolicy",
            json.dumps({"bucketName": "long", "bucketPolicy": {"Statement": [*named, open_]}}),
        ),
        ("PutBucketPolicy", json.dumps({"bucketName": "short", "bucketPolicy": {"Statement": named[:2]}})),
    ]
    found = public_access(_frame(rows), DetectContext())
    assert found["key"].to_list() == ["long|AIDAEXAMPLE"]
    assert json.loads(found["info"][0])["publicAccess"]["grant"].startswith("policy statement 'Last'")


def test_no_candidate_calls_give_an_empty_hits_frame() -> None:
    rows: list[tuple[str, str | None]] = [("PutBucketPolicy", None), ("ListBuckets", "{}")]
    assert public_access(_frame(rows), DetectContext()).is_empty()
