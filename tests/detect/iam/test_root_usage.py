"""Policy:IAMUser/RootCredentialUsage and ShortTermRootCredentialUsage on CloudTrail samples."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from keibi.detect.iam.root_usage import ROOT_CREDENTIAL_USAGE, SHORT_TERM_ROOT_CREDENTIAL_USAGE
from tests.detect._frames import check, intel_for, parsed, sample_dir, samples

DETECTOR = "iam.root_usage"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_evidence_points_at_both_root_calls() -> None:
    found = check(DETECTOR, SAMPLES / "hit_root_api_calls.json")
    assert found["rows"].to_list() == [[0, 1]]
    assert found["last_row"].to_list() == [1]


def test_assumed_root_flag_is_parsed() -> None:
    _, batch = parsed(SAMPLES / "hit_root_and_short_term_root.json", intel_for(SAMPLES))
    got = batch.select("access_key_id", "session_assumed_root").rows()
    # Root's console session has an ASIA key and a sessionContext too, but no assumedRoot.
    assert got == [("ASIAZ7Q4ROOTCONSOLE2", None), ("ASIAZ7Q4MEMBERROOT02", True)]


@pytest.mark.parametrize(
    "sample", [p for p in samples(DETECTOR) if p.name.startswith("hit_")], ids=lambda p: p.name
)
def test_each_root_call_raises_one_type(sample: Path) -> None:
    """The two types split the root calls between them: no record is evidence for both."""
    found = check(DETECTOR, sample)
    per_row = found.select("type", "rows").explode("rows").group_by("rows").agg(pl.col("type").n_unique())
    assert per_row.height == found["count"].sum()
    assert per_row["type"].to_list() == [1] * per_row.height
    assert set(found["type"]) <= {ROOT_CREDENTIAL_USAGE.type, SHORT_TERM_ROOT_CREDENTIAL_USAGE.type}


def test_short_term_evidence_is_the_successful_calls() -> None:
    found = check(DETECTOR, SAMPLES / "hit_short_term_root.json")
    # GetBucketPolicy and DeleteBucketPolicy; the denied PutBucketAcl (row 2) is not evidence.
    assert found["rows"].to_list() == [[0, 1]]
