"""Policy:IAMUser/RootCredentialUsage on CloudTrail samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.detect._frames import check, samples

DETECTOR = "iam.root_usage"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_evidence_points_at_both_root_calls() -> None:
    found = check(DETECTOR, Path(samples(DETECTOR)[0]))
    assert found["rows"].to_list() == [[0, 1]]
    assert found["last_row"].to_list() == [1]
