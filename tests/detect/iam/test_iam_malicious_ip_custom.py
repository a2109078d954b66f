"""{Recon,UnauthorizedAccess}:IAMUser/MaliciousIPCaller.Custom on CloudTrail samples."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from keibi.detect.iam.api_classes import is_recon
from tests.detect._frames import check, sample_dir, samples

DETECTOR = "iam.malicious_ip_custom"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_threat_list() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_recon_from_listed_cidr.json")
    assert json.loads(found["info"][0]) == {"threatListName": "threat"}


def test_recon_classification() -> None:
    names = pl.Series(
        [
            "ListBuckets",
            "DescribeInstances",
            "GetCallerIdentity",
            "GetSecretValue",
            "GetObject",
            "CreateUser",
            None,
        ]
    )
    assert pl.select(is_recon(pl.lit(names))).to_series().to_list() == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
