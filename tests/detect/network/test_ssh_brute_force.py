"""UnauthorizedAccess:EC2/SSHBruteForce on VPC flow log samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keibi.detect import DetectSettings
from tests.detect._frames import check, run, sample_dir, samples

DETECTOR = "network.ssh_brute_force"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_only_request_records_are_evidence() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_inbound_guessing.log")
    # 60 records in the file: 30 guesses and 30 replies; the replies are not counted again.
    assert len(found["rows"][0]) == 30
    assert json.loads(found["info"][0]) == {"connectionAttempts": 30}


def test_threshold_is_the_setting() -> None:
    assert run(
        DETECTOR,
        sample_dir(DETECTOR) / "miss_admin_sessions.log",
        settings=DetectSettings(ssh_min_attempts=3),
    )["count"].to_list() == [3]
