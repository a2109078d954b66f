"""Stealth:IAMUser/PasswordPolicyChange on CloudTrail samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "iam.password_policy"
SAMPLES = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def _info(name: str) -> dict[str, object]:
    found = check(DETECTOR, SAMPLES / name)
    info: dict[str, object] = json.loads(found["info"].item())
    return info


def test_info_lists_every_weakness_of_a_high_policy() -> None:
    # Length 6, no symbols or numbers, reuse prevention and expiry left out (API defaults: 0).
    assert _info("hit_update_high_console.json") == {
        "weakenedSettings": [
            "minimumPasswordLength=6 (<8)",
            "passwordReusePrevention=0 (none)",
            "maxPasswordAge=0 (never expires)",
            "requireSymbols=false",
            "requireNumbers=false",
        ],
        "policyScore": 8,
        "errorCode": None,
    }


def test_info_of_a_medium_policy() -> None:
    assert _info("hit_update_medium.json") == {
        "weakenedSettings": [
            "minimumPasswordLength=10 (<14)",
            "passwordReusePrevention=5 (<24)",
            "maxPasswordAge=180 (>90)",
            "requireSymbols=false",
        ],
        "policyScore": 4,
        "errorCode": None,
    }


def test_denied_delete_keeps_its_error_code() -> None:
    info = _info("hit_delete_attempt_denied.json")
    assert info["errorCode"] == "AccessDenied"
    assert info["policyScore"] is None
    settings = info["weakenedSettings"]
    assert isinstance(settings, list) and len(settings) == 1
    assert settings[0].startswith("password policy deleted")


def test_values_of_the_wrong_json_type() -> None:
    # "16" and "TRUE" read as 16 and true; a list for a number reads as the API default.
    assert _info("hit_odd_value_types.json") == {
        "weakenedSettings": ["passwordReusePrevention=0 (none)", "maxPasswordAge=0 (never expires)"],
        "policyScore": 3,
        "errorCode": None,
    }


def test_one_finding_per_principal_takes_the_worst_call() -> None:
    found = check(DETECTOR, SAMPLES / "hit_update_low_then_delete.json")
    assert found["rows"].to_list() == [[0, 1]]
    assert json.loads(found["info"].item())["policyScore"] is None  # the latest call, the deletion
