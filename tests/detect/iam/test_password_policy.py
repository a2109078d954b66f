"""Stealth:IAMUser/PasswordPolicyChange on CloudTrail samples, across batches and scans."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from keibi.detect import ROW, DetectContext, detectors
from keibi.detect.iam.password_policy import DETECTOR_ID
from keibi.findings import decode_info
from keibi.store import Store
from tests.dbs import postgres_url, sqlite_url
from tests.detect._frames import check, intel_for, parsed, sample_dir, samples
from tests.helpers import scan_findings

DETECTOR = "iam.password_policy"
SAMPLES = sample_dir(DETECTOR)
MALLORY = "AROA1234EXAMPLEAWSRES:mallory@example.com"
IT_ADMIN = "AIDA1234IT-ADMINEXAMPLE"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def _infos(name: str) -> dict[str, dict[str, Any]]:
    """Each hit's info by principal."""
    found = check(DETECTOR, SAMPLES / name)
    return {key: json.loads(info) for key, info in found.select("key", "info").rows()}


def _info(name: str) -> dict[str, Any]:
    [info] = _infos(name).values()
    return info


# ---------------------------------------------------------------- first sight: the benchmark


def test_info_lists_every_weakness_of_a_high_policy() -> None:
    # Length 6, no symbols or numbers, reuse prevention and expiry left out (API defaults: 0).
    assert _info("hit_update_high_console.json") == {
        "comparedWith": "CIS benchmark",
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
        "comparedWith": "CIS benchmark",
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
    assert info["comparedWith"] == "CIS benchmark"
    assert info["errorCode"] == "AccessDenied"
    assert info["policyScore"] is None
    settings = info["weakenedSettings"]
    assert isinstance(settings, list) and len(settings) == 1
    assert settings[0].startswith("password policy deleted")


def test_values_of_the_wrong_json_type() -> None:
    # "16" and "TRUE" read as 16 and true; a list for a number reads as the API default.
    assert _info("hit_odd_value_types.json") == {
        "comparedWith": "CIS benchmark",
        "weakenedSettings": ["passwordReusePrevention=0 (none)", "maxPasswordAge=0 (never expires)"],
        "policyScore": 3,
        "errorCode": None,
    }


# ---------------------------------------------------------------- against the previous policy


def test_weakening_names_each_setting_and_the_previous_policy() -> None:
    # 14 → 8 characters loses 1 point, symbols no longer required 1 more: Low.
    assert _info("hit_weakened_from_previous.json") == {
        "comparedWith": "previous policy",
        "previousPolicySetAt": "2025-02-10T09:00:00Z",
        "previousPolicyApi": "UpdateAccountPasswordPolicy",
        "weakenedSettings": ["minimumPasswordLength 14→8", "requireSymbols true→false"],
        "pointsLost": 2,
        "errorCode": None,
    }


def test_a_stronger_policy_below_the_benchmark_raises_nothing() -> None:
    """The old gap: 8 → 12 characters, symbols now required, more reuse prevention, shorter expiry."""
    found = check(DETECTOR, SAMPLES / "hit_weak_then_stronger.json")
    assert found["rows"].to_list() == [[0]]  # only the first call, judged against the benchmark
    assert json.loads(found["info"].item())["comparedWith"] == "CIS benchmark"


def test_deletion_is_judged_against_the_policy_it_removed() -> None:
    """IAM's default keeps 8 characters and three character types; reuse and expiry are lost."""
    found = check(DETECTOR, SAMPLES / "hit_update_low_then_delete.json")
    assert found["rows"].to_list() == [[0, 1]]  # severity: the worse call, the deletion (Medium)
    assert json.loads(found["info"].item()) == {
        "comparedWith": "previous policy",
        "previousPolicySetAt": "2025-02-03T11:00:00Z",
        "previousPolicyApi": "UpdateAccountPasswordPolicy",
        "weakenedSettings": [
            "minimumPasswordLength 12→8",
            "passwordReusePrevention 24→0",
            "maxPasswordAge 90→0",
            "characterTypesRequired 4→3",
        ],
        "pointsLost": 4,
        "errorCode": None,
    }


def test_a_failed_call_is_judged_but_not_remembered() -> None:
    infos = _infos("hit_denied_attempt_then_weakened.json")
    denied = infos["AIDA1234CI-DEPLOEXAMPLE"]
    assert (denied["errorCode"], denied["pointsLost"], denied["previousPolicySetAt"]) == (
        "AccessDenied",
        10,
        "2025-02-12T09:00:00Z",
    )
    # Mallory's 10 characters are weaker than the 14 set at 09:00, not than the denied 6.
    assert infos[MALLORY]["weakenedSettings"] == ["minimumPasswordLength 14→10"]
    assert infos[MALLORY]["previousPolicySetAt"] == "2025-02-12T09:00:00Z"


def test_calls_are_judged_per_account_in_event_time_order() -> None:
    """The file lists account 1111's 12:00 call before its 09:00 one, and 1234's 10:00 call
    between them: 12:00 is compared with 09:00, and 1234's first call with the benchmark."""
    infos = _infos("hit_two_accounts_interleaved.json")
    assert infos["AIDA1111OPS-ADMINEXMPL"]["previousPolicySetAt"] == "2025-02-13T09:00:00Z"
    assert infos["AIDA1111OPS-ADMINEXMPL"]["weakenedSettings"] == ["minimumPasswordLength 14→12"]
    assert infos[IT_ADMIN]["comparedWith"] == "CIS benchmark"


# ---------------------------------------------------------------- state across batches


def _batches(*names: str) -> tuple[list[pl.DataFrame], DetectContext]:
    """Each sample file as one batch through the detector, sharing one context."""
    det = detectors.load()[DETECTOR]
    ctx = DetectContext()
    found = []
    for name in names:
        _, batch = parsed(SAMPLES / name, intel_for(SAMPLES))
        assert det.prefilter is not None
        found.append(det(batch.filter(det.prefilter).with_row_index(ROW), ctx))
    return found, ctx


def test_state_holds_one_row_per_account_from_successful_calls() -> None:
    _, ctx = _batches("hit_denied_attempt_then_weakened.json", "hit_two_accounts_interleaved.json")
    state = ctx.state[DETECTOR_ID].sort("account_id")
    assert state.select("account_id", "set_at", "api", "minimumPasswordLength").rows() == [
        ("111122223333", datetime(2025, 2, 13, 12, tzinfo=UTC), "UpdateAccountPasswordPolicy", 12),
        ("123456789012", datetime(2025, 2, 13, 10, tzinfo=UTC), "UpdateAccountPasswordPolicy", 10),
    ]


def test_deleting_a_policy_weaker_than_the_default_raises_nothing() -> None:
    """After a 6-character policy with nothing required, IAM's default is stronger everywhere."""
    (first, second), ctx = _batches("hit_update_high_console.json", "hit_delete_attempt_denied.json")
    assert first.height == 1 and second.is_empty()
    # The denied deletion changed nothing: the remembered policy is still the update's.
    assert ctx.state[DETECTOR_ID]["api"].to_list() == ["UpdateAccountPasswordPolicy"]


def test_a_later_batch_is_compared_with_the_earlier_policy() -> None:
    (first, second), _ = _batches("miss_meets_benchmark.json", "hit_weak_then_stronger.json")
    assert first.is_empty()
    assert second["rows"].to_list() == [[0]]  # the stronger second call stays quiet
    info = json.loads(second["info"].item())
    assert info["comparedWith"] == "previous policy"
    assert info["previousPolicySetAt"] == "2025-02-07T09:30:00Z"
    # Against 20 characters, 24 remembered, 60 days: every weakened setting, 1 point each.
    assert info["weakenedSettings"] == [
        "minimumPasswordLength 20→8",
        "requireSymbols true→false",
        "passwordReusePrevention 24→5",
        "maxPasswordAge 60→180",
    ]
    assert info["pointsLost"] == 4 and second["severity"].item() == 5.0


def test_a_call_older_than_the_remembered_policy_is_judged_against_the_benchmark() -> None:
    """The policy remembered from 7 February cannot be what a 3 February call replaced."""
    (_, late), ctx = _batches("miss_meets_benchmark.json", "hit_update_medium.json")
    assert json.loads(late["info"].item())["comparedWith"] == "CIS benchmark"
    assert ctx.state[DETECTOR_ID]["set_at"].to_list() == [datetime(2025, 2, 7, 9, 30, tzinfo=UTC)]


# ---------------------------------------------------------------- through the engine


def _records(name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((SAMPLES / name).read_text())["Records"]
    return records


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_bytes(orjson.dumps({"Records": records}))
    return path


def _at(record: dict[str, Any], when: str) -> dict[str, Any]:
    return {**record, "eventTime": when}


def _filler(start: datetime, n: int, tag: str) -> list[dict[str, Any]]:
    """Routine IAM reads that only make the files long."""
    return [
        {
            "eventVersion": "1.10",
            "eventTime": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "iam.amazonaws.com",
            "eventName": "GetAccountPasswordPolicy",
            "eventID": f"{tag}-{i}",
            "eventType": "AwsApiCall",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "203.0.113.24",
            "userAgent": "aws-cli/2.22.4",
            "readOnly": True,
            "recipientAccountId": "123456789012",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": IT_ADMIN,
                "accountId": "123456789012",
                "arn": "arn:aws:iam::123456789012:user/it-admin",
                "accessKeyId": "AKIAZ7Q4ITADMIN00001",
                "userName": "it-admin",
            },
        }
        for i in range(n)
    ]


def _outcome(findings: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            f["accountId"],
            f["service"]["count"],
            f["severity"],
            json.dumps({k: v for k, v in decode_info(f).items() if k != "keibi"}, sort_keys=True),
        )
        for f in findings
        if f["type"] == "Stealth:IAMUser/PasswordPolicyChange"
    )


def test_same_findings_whatever_the_batch_size(tmp_path: Path) -> None:
    """Calls of one account spread over three files of more than 1000 records each."""
    cis, weakened = _records("hit_weakened_from_previous.json")
    _, denied, _ = _records("hit_denied_attempt_then_weakened.json")
    [stronger] = _records("hit_update_low.json")  # 12 characters, all types, 24 remembered, 90 days
    delete = _records("hit_update_low_then_delete.json")[1]
    other = _records("hit_two_accounts_interleaved.json")[0]  # another account's first call
    day = datetime(2025, 3, 1, tzinfo=UTC)
    files = [
        [
            *_filler(day.replace(hour=10), 1200, "a"),
            _at(cis, "2025-03-01T10:25:00Z"),
            _at(denied, "2025-03-01T10:26:00Z"),
        ],
        [
            *_filler(day.replace(hour=11), 1200, "b"),
            _at(weakened, "2025-03-01T11:30:00Z"),
            _at(stronger, "2025-03-01T11:31:00Z"),
        ],
        [
            *_filler(day.replace(hour=12), 1200, "c"),
            _at(delete, "2025-03-01T12:30:00Z"),
            _at(other, "2025-03-01T12:31:00Z"),
        ],
    ]
    paths = [_write(tmp_path / f"{i}.json", records) for i, records in enumerate(files)]
    small = _outcome(scan_findings(paths, batch_rows=1000))
    assert small == _outcome(scan_findings(paths, batch_rows=250_000))
    judged = {
        (account, count, severity, json.loads(info)["previousPolicySetAt"])
        for account, count, severity, info in small
        if json.loads(info)["comparedWith"] == "previous policy"
    }
    # ci-deploy's denied attempt against 10:25 (High); mallory's weakening against 10:25 (Low);
    # it-admin's stronger update raises nothing; it-admin's deletion against 11:31 (Medium).
    assert judged == {
        ("123456789012", 1, 8.0, "2025-03-01T10:25:00Z"),
        ("123456789012", 1, 2.0, "2025-03-01T10:25:00Z"),
        ("123456789012", 1, 5.0, "2025-03-01T11:31:00Z"),
    }
    assert [(a, json.loads(i)["comparedWith"]) for a, _, _, i in small if a == "111122223333"] == [
        ("111122223333", "CIS benchmark")
    ]


def _two_scans(url: str, first: Path, second: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with Store(url) as store:
        return _outcome(scan_findings([first], store=store)), _outcome(scan_findings([second], store=store))


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_next_scan_compares_with_the_policy_an_earlier_scan_saw(tmp_path: Path, backend: str) -> None:
    """Account 1234 gets a benchmark policy in the first scan and mallory weakens it in the
    second; account 1111 gets a weak policy first (raised) and a stronger one next (quiet)."""
    cis, weakened = _records("hit_weakened_from_previous.json")
    weak, stronger = (
        {
            **r,
            "recipientAccountId": "111122223333",
            "userIdentity": {**r["userIdentity"], "accountId": "111122223333"},
        }
        for r in _records("hit_weak_then_stronger.json")
    )
    first = _write(tmp_path / "first.json", [cis, weak])
    second = _write(tmp_path / "second.json", [weakened, stronger])
    if backend == "sqlite":
        before, after = _two_scans(sqlite_url(tmp_path), first, second)
    else:
        with postgres_url() as url:
            before, after = _two_scans(url, first, second)
    assert [(a, json.loads(i)["comparedWith"], s) for a, _, s, i in before] == [
        ("111122223333", "CIS benchmark", 5.0)
    ]
    [(account, _, severity, info)] = after
    assert (account, severity) == ("123456789012", 2.0)
    assert json.loads(info) == {
        "comparedWith": "previous policy",
        "previousPolicySetAt": "2025-02-10T09:00:00Z",
        "previousPolicyApi": "UpdateAccountPasswordPolicy",
        "weakenedSettings": ["minimumPasswordLength 14→8", "requireSymbols true→false"],
        "pointsLost": 2,  # (a finding's additionalInfo leaves out the null errorCode)
    }
    # A store that never saw the first scan judges both second-scan calls against the benchmark.
    fresh = _outcome(scan_findings([second]))
    assert sorted(json.loads(i)["comparedWith"] for *_, i in fresh) == ["CIS benchmark", "CIS benchmark"]
