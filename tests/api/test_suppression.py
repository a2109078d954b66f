"""Suppression rules end to end: ARCHIVE filters made through boto3 archive the matching findings a
scan of real CloudTrail samples creates, and nothing else (GuardDuty's suppression: new findings
only; a finding already stored keeps its state on its next occurrence)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from keibi.store import FindingQuery
from keibi.store.filters import Suppression
from keibi.store.tables import members
from tests.api.server import KeibiServer
from tests.helpers import FIXED_NOW, scan_result

SAMPLES = Path(__file__).resolve().parent.parent / "detect" / "iam" / "samples"
SAMPLE_ACCOUNT = "123456789012"
ROOT = "Policy:IAMUser/RootCredentialUsage"
PASSWORD = "Stealth:IAMUser/PasswordPolicyChange"
TRAIL = "Stealth:IAMUser/CloudTrailLoggingDisabled"
SAMPLE_TYPES = (ROOT, PASSWORD, TRAIL)
ROOT_CALLS = "root_usage/hit_root_api_calls.json"  # RootCredentialUsage, 2 calls
ROOT_LATER = "root_usage/hit_root_s3_data_event.json"  # the same finding, one call a year later
PASSWORD_LOW = "password_policy/hit_update_low.json"  # PasswordPolicyChange
TRAIL_STOP = "cloudtrail_logging/hit_stop_then_delete.json"  # CloudTrailLoggingDisabled


def _logs(out: Path, account: str, *samples: str, region: str = "us-east-1") -> Path:
    """Copies of the samples, moved to ``account`` (and ``region``), in a directory of their own."""
    out.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        text = (SAMPLES / sample).read_text().replace(SAMPLE_ACCOUNT, account)
        (out / Path(sample).name).write_text(text.replace('"us-east-1"', f'"{region}"'))
    return out


def _scan(api: KeibiServer, logs: Path) -> list[dict[str, Any]]:
    """The findings of the samples' own types a scan of ``logs`` touched. (Behaviour detectors
    may add anomalies, depending on what the shared store learned from other tests' scans.)"""
    return [f for f in scan_result([logs], store=api.store).findings if f["type"] in SAMPLE_TYPES]


def _archived(api: KeibiServer, *accounts: str) -> dict[tuple[str, str], bool]:
    """(account, type) → archived, for every stored finding of ``accounts`` of the samples' types."""
    query = FindingQuery(types=SAMPLE_TYPES, archived=None, account_ids=accounts)
    return {(f["accountId"], f["type"]): f["service"]["archived"] for f in api.store.list_findings(query)}


def _criteria(*types: str) -> dict[str, Any]:
    return {"Criterion": {"type": {"Equals": list(types)}}}


def test_new_findings_matching_an_archive_filter_are_stored_archived(
    api: KeibiServer, tmp_path: Path
) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_filter(DetectorId=did, Name="root-is-known", Action="ARCHIVE", FindingCriteria=_criteria(ROOT))
    gd.create_filter(DetectorId=did, Name="trail-view", Action="NOOP", FindingCriteria=_criteria(TRAIL))

    scanned = _scan(api, _logs(tmp_path, key.account_id, ROOT_CALLS, PASSWORD_LOW, TRAIL_STOP))

    a = key.account_id
    expected = {(a, ROOT): True, (a, PASSWORD): False, (a, TRAIL): False}
    assert {(f["accountId"], f["type"]): f["service"]["archived"] for f in scanned} == expected
    assert _archived(api, a) == expected
    active = api.store.list_findings(FindingQuery(types=SAMPLE_TYPES, archived=False, account_ids=(a,)))
    assert sorted(f["type"] for f in active) == [TRAIL, PASSWORD]


def test_a_noop_filter_archives_nothing(api: KeibiServer, tmp_path: Path) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    everything = {"Criterion": {"severity": {"GreaterThanOrEqual": 0}}}
    gd.create_filter(DetectorId=did, Name="all-findings", Action="NOOP", FindingCriteria=everything)

    _scan(api, _logs(tmp_path, key.account_id, ROOT_CALLS, PASSWORD_LOW))

    assert _archived(api, key.account_id) == {
        (key.account_id, ROOT): False,
        (key.account_id, PASSWORD): False,
    }


def test_rules_apply_in_rank_order(api: KeibiServer, tmp_path: Path) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_filter(DetectorId=did, Name="root", Action="ARCHIVE", FindingCriteria=_criteria(ROOT))
    gd.create_filter(
        DetectorId=did, Name="root-or-password", Action="ARCHIVE", FindingCriteria=_criteria(ROOT, PASSWORD)
    )
    gd.create_filter(DetectorId=did, Name="view", Action="NOOP", FindingCriteria=_criteria(TRAIL), Rank=1)
    assert gd.list_filters(DetectorId=did)["FilterNames"] == ["view", "root", "root-or-password"]

    scanned = {
        f["type"]: f
        for f in _scan(api, _logs(tmp_path, key.account_id, ROOT_CALLS, PASSWORD_LOW, TRAIL_STOP))
    }

    assert {t: f["service"]["archived"] for t, f in scanned.items()} == {
        ROOT: True,
        PASSWORD: True,
        TRAIL: False,
    }
    suppression = Suppression.load(api.store)
    first = suppression.rule_for(scanned[ROOT])
    assert first is not None and (first.name, first.rank) == ("root", 2)
    gd.update_filter(DetectorId=did, FilterName="root-or-password", Rank=1)
    first = Suppression.load(api.store).rule_for(scanned[ROOT])
    assert first is not None and (first.name, first.rank) == ("root-or-password", 1)


def test_a_finding_stored_before_the_rule_stays_active(api: KeibiServer, tmp_path: Path) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True)["DetectorId"]
    (before,) = _scan(api, _logs(tmp_path / "one", key.account_id, ROOT_CALLS))
    assert (before["type"], before["service"]["archived"], before["service"]["count"]) == (ROOT, False, 2)

    gd.create_filter(
        DetectorId=did, Name="root-and-password", Action="ARCHIVE", FindingCriteria=_criteria(ROOT, PASSWORD)
    )
    scanned = {
        f["type"]: f for f in _scan(api, _logs(tmp_path / "two", key.account_id, ROOT_LATER, PASSWORD_LOW))
    }

    again = scanned[ROOT]
    assert again["id"] == before["id"]
    assert (again["service"]["archived"], again["service"]["count"]) == (False, 3)
    assert scanned[PASSWORD]["service"]["archived"] is True  # new since the rule: suppressed
    assert _archived(api, key.account_id) == {(key.account_id, ROOT): False, (key.account_id, PASSWORD): True}


def test_rules_hold_only_their_own_account_and_region(api: KeibiServer, tmp_path: Path) -> None:
    mine, other = api.account(), api.account()
    east = api.client(mine)
    did = east.create_detector(Enable=True)["DetectorId"]
    east.create_filter(DetectorId=did, Name="root", Action="ARCHIVE", FindingCriteria=_criteria(ROOT))

    _scan(api, _logs(tmp_path / "east", mine.account_id, ROOT_CALLS))
    _scan(api, _logs(tmp_path / "west", mine.account_id, ROOT_CALLS, region="eu-west-1"))
    _scan(api, _logs(tmp_path / "other", other.account_id, ROOT_CALLS))

    query = FindingQuery(types=SAMPLE_TYPES, archived=None, account_ids=(mine.account_id, other.account_id))
    found = api.store.list_findings(query)
    assert sorted(
        (f["accountId"] == mine.account_id, f["region"], f["service"]["archived"]) for f in found
    ) == [
        (False, "us-east-1", False),
        (True, "eu-west-1", False),
        (True, "us-east-1", True),
    ]


def test_an_administrators_rules_hold_its_monitored_members(api: KeibiServer, tmp_path: Path) -> None:
    admin, member, invited = api.account(), api.account(), api.account()
    gd = api.client(admin)
    did = gd.create_detector(Enable=True)["DetectorId"]
    gd.create_filter(DetectorId=did, Name="root", Action="ARCHIVE", FindingCriteria=_criteria(ROOT))
    with api.store.transaction("add members") as conn:
        for account, status in ((member.account_id, "Enabled"), (invited.account_id, "Invited")):
            conn.execute(
                sa.insert(members).values(
                    detector_id=did,
                    account_id=account,
                    administrator_id=admin.account_id,
                    region="us-east-1",
                    email="member@example.com",
                    relationship_status=status,
                    updated_at=FIXED_NOW,
                )
            )

    _scan(api, _logs(tmp_path / "member", member.account_id, ROOT_CALLS, PASSWORD_LOW))
    _scan(api, _logs(tmp_path / "invited", invited.account_id, ROOT_CALLS))

    assert _archived(api, member.account_id, invited.account_id) == {
        (member.account_id, ROOT): True,
        (member.account_id, PASSWORD): False,
        (invited.account_id, ROOT): False,
    }
