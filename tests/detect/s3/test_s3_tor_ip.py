"""Discovery:S3/TorIPCaller and UnauthorizedAccess:S3/TorIPCaller on CloudTrail S3 data-event samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "s3.tor_ip"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_feed_and_its_category() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_discovery.json")
    assert json.loads(found["info"][0]) == {"threatListName": "feed.Tor", "threatNames": ["Tor"]}
