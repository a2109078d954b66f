"""Stealth:S3/ServerAccessLoggingDisabled on CloudTrail samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "s3.access_logging"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_each_bucket_is_its_own_finding_and_repeats_fold() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_logging_disabled_twice.json").sort("key")
    assert found["rows"].to_list() == [[2], [0, 1]]
