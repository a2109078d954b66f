"""The API classification table: the shipped rows, precedence, and a bad table's errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
import pytest

from keibi.detect.api_classes import (
    CLASSES,
    api_class,
    api_class_rules,
    classify,
    is_recon,
    parse_rules,
)

HEADER = "event_source,event_name,class,note\n"


def _classes(
    pairs: list[tuple[str | None, str | None]],
    expr_of: Callable[[pl.Expr, pl.Expr], pl.Expr] = api_class,
) -> list[Any]:
    frame = pl.DataFrame(pairs, schema={"s": pl.String, "n": pl.String}, orient="row")
    return frame.select(expr_of(pl.col("s"), pl.col("n"))).to_series().to_list()


def test_shipped_table_loads_once_and_uses_every_class() -> None:
    rules = api_class_rules()
    assert rules is api_class_rules()
    assert {r.api_class for r in rules} == set(CLASSES)


# GuardDuty's S3 finding types name these APIs as their examples; the table must agree.
GUARDDUTY_EXAMPLES = [
    ("GetObjectAcl", "s3_discovery"),
    ("ListObjects", "s3_discovery"),
    ("GetObject", "s3_exfiltration"),
    ("CopyObject", "s3_exfiltration"),
    ("PutObject", "s3_impact"),
    ("PutObjectAcl", "s3_impact"),
]

# Every S3 data event CloudTrail logs for general purpose buckets has an S3 class.
S3_DATA_EVENTS = [
    "AbortMultipartUpload",
    "CompleteMultipartUpload",
    "CopyObject",
    "CreateMultipartUpload",
    "DeleteObject",
    "DeleteObjectTagging",
    "DeleteObjects",
    "GetObject",
    "GetObjectAcl",
    "GetObjectAttributes",
    "GetObjectLegalHold",
    "GetObjectRetention",
    "GetObjectTagging",
    "GetObjectTorrent",
    "HeadBucket",
    "HeadObject",
    "ListMultipartUploads",
    "ListObjectVersions",
    "ListObjects",
    "ListObjectsV2",
    "ListParts",
    "PutObject",
    "PutObjectAcl",
    "PutObjectLegalHold",
    "PutObjectRetention",
    "PutObjectTagging",
    "RestoreObject",
    "SelectObjectContent",
    "UploadPart",
    "UploadPartCopy",
]


@pytest.mark.parametrize(("name", "klass"), GUARDDUTY_EXAMPLES)
def test_guardduty_s3_examples(name: str, klass: str) -> None:
    assert _classes([("s3.amazonaws.com", name)]) == [klass]


def test_every_s3_data_event_has_an_s3_class() -> None:
    found = _classes([("s3.amazonaws.com", n) for n in S3_DATA_EVENTS])
    unclassified = [n for n, c in zip(S3_DATA_EVENTS, found, strict=True) if not (c or "").startswith("s3_")]
    assert unclassified == []


def test_recon_split_for_management_events() -> None:
    pairs: list[tuple[str | None, str | None]] = [
        ("s3.amazonaws.com", "ListBuckets"),
        ("s3.amazonaws.com", "GetBucketPolicy"),
        ("ec2.amazonaws.com", "DescribeInstances"),
        ("sts.amazonaws.com", "GetCallerIdentity"),
        ("cloudtrail.amazonaws.com", "LookupEvents"),
        ("secretsmanager.amazonaws.com", "GetSecretValue"),
        ("ssm.amazonaws.com", "GetParameters"),
        ("s3.amazonaws.com", "GetObject"),
        ("mediastore.amazonaws.com", "GetObject"),
        ("s3.amazonaws.com", "PutBucketPolicy"),
        ("iam.amazonaws.com", "CreateUser"),
        (None, "ListUsers"),
        ("iam.amazonaws.com", None),
        (None, None),
    ]
    assert _classes(pairs, is_recon) == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
        False,
        True,
        False,
        False,
    ]
    assert _classes(pairs)[5:10] == [
        "sensitive_read",
        "sensitive_read",
        "s3_exfiltration",
        "sensitive_read",
        "s3_impact",
    ]


PRECEDENCE = parse_rules(
    HEADER
    + "# comment lines and blank lines are skipped\n\n"
    + "*,Get*,recon,\n"
    + "*,GetThing,sensitive_read,\n"
    + "svc.amazonaws.com,Get*,s3_discovery,\n"
    + "svc.amazonaws.com,GetThingAcl,s3_impact,\n"
    + "*,GetThingA*,s3_exfiltration,\n"
    + "svc.amazonaws.com,*,s3_impact,any name\n"
)


@pytest.mark.parametrize(
    ("source", "name", "klass"),
    [
        ("other.amazonaws.com", "GetFoo", "recon"),  # the only match
        ("svc.amazonaws.com", "GetFoo", "s3_discovery"),  # equal prefixes: the named source wins
        ("other.amazonaws.com", "GetThing", "sensitive_read"),  # an exact name beats prefixes
        ("svc.amazonaws.com", "GetThing", "sensitive_read"),  # ... even a named source's prefix
        ("svc.amazonaws.com", "GetThingAcl", "s3_impact"),  # exact names: the named source wins
        ("other.amazonaws.com", "GetThingAcl", "s3_exfiltration"),  # the longer prefix wins
        ("svc.amazonaws.com", "GetThingAttrs", "s3_exfiltration"),  # ... over a named source's shorter one
        ("svc.amazonaws.com", "PutFoo", "s3_impact"),  # the empty prefix matches any name
        ("other.amazonaws.com", "PutFoo", None),  # no row
        (None, "GetFoo", "recon"),  # a null source matches only * rows
    ],
)
def test_precedence(source: str | None, name: str, klass: str | None) -> None:
    assert _classes([(source, name)], lambda s, n: classify(s, n, PRECEDENCE)) == [klass]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty table"),
        ("source,name,class,note\n", "expected header"),
        (HEADER + "*,Get*,recon\n", ":2: expected 4 fields, got 3"),
        (HEADER + "*,Get*,discovery,\n", ":2: unknown class 'discovery'"),
        (HEADER + "*,Get*,recon,\n*,Get*,s3_impact,\n", ":3: *,Get* is listed twice"),
        (HEADER + "*,G*t,recon,\n", ":2: event_name must be"),
        (HEADER + "*,,recon,\n", ":2: event_name must be"),
        (HEADER + "s3.*,Get*,recon,\n", ":2: event_source must be"),
    ],
)
def test_bad_tables_name_the_line(body: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^t\.csv") as err:
        parse_rules(body, "t.csv")
    assert message in str(err.value)
