"""Stealth:IAMUser/CloudTrailLoggingDisabled on CloudTrail samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "iam.cloudtrail_logging"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_trail_of_the_latest_call() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_stop_then_delete.json")
    # StopLogging named the trail by ARN, DeleteTrail by name: both read as the name.
    assert json.loads(found["info"][0]) == {"trailName": "management-events"}
