"""Discovery:S3/MaliciousIPCaller.Custom and UnauthorizedAccess:S3/MaliciousIPCaller.Custom on
CloudTrail S3 data-event samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "s3.malicious_ip_custom"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_threat_list() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_unauthorized.json")
    assert json.loads(found["info"][0]) == {"threatListName": "threat"}
