"""DefenseEvasion:IAMUser/BedrockLoggingDisabled on CloudTrail samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "iam.bedrock_logging"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_put_without_destination_is_the_evidence() -> None:
    found = check(DETECTOR, SAMPLES / "hit_put_without_destination.json")
    assert found["rows"].to_list() == [[1, 2]]  # the two Puts, not the Get before them
    assert json.loads(found["info"].item()) == {
        "reason": "logging configuration has no S3 or CloudWatch Logs destination"
    }


def test_delete_reason() -> None:
    found = check(DETECTOR, SAMPLES / "hit_delete_logging_config.jsonl")
    assert json.loads(found["info"].item()) == {"reason": "logging configuration deleted"}
