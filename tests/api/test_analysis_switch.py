"""UpdateDetector switches analysis: a DISABLED detector, or a feature switched off, leaves that
account's records in that region unanalysed by the next scan (no findings, no usage), as in
GuardDuty; switched back on, the next scan analyses them again."""

from __future__ import annotations

from pathlib import Path

from keibi.store import FindingQuery
from tests.api.server import KeibiServer
from tests.api.test_suppression import ROOT_CALLS, ROOT_LATER, SAMPLE_TYPES, TRAIL_STOP, _logs
from tests.helpers import scan_result


def _types(api: KeibiServer, account: str) -> list[str]:
    query = FindingQuery(types=SAMPLE_TYPES, archived=None, account_ids=(account,))
    return sorted(f["type"] for f in api.store.list_findings(query))


def test_a_disabled_detector_is_not_analysed(api: KeibiServer, tmp_path: Path) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=False)["DetectorId"]
    scan_result([_logs(tmp_path / "a", key.account_id, TRAIL_STOP)], store=api.store)
    assert _types(api, key.account_id) == []
    usage = gd.get_usage_statistics(
        DetectorId=did,
        UsageStatisticType="SUM_BY_ACCOUNT",
        UsageCriteria={"DataSources": ["CLOUD_TRAIL"]},
        Unit="EVENTS",
    )["UsageStatistics"]["SumByAccount"]
    assert usage == []
    gd.update_detector(DetectorId=did, Enable=True)
    scan_result([_logs(tmp_path / "b", key.account_id, TRAIL_STOP)], store=api.store)
    assert _types(api, key.account_id) == ["Stealth:IAMUser/CloudTrailLoggingDisabled"]


def test_s3_data_events_switched_off_leave_management_events_analysed(
    api: KeibiServer, tmp_path: Path
) -> None:
    key = api.account()
    gd = api.client(key)
    did = gd.create_detector(Enable=True, Features=[{"Name": "S3_DATA_EVENTS", "Status": "DISABLED"}])[
        "DetectorId"
    ]
    # Root's S3 data event is not analysed; its management-event calls are.
    scan_result([_logs(tmp_path / "a", key.account_id, ROOT_LATER)], store=api.store)
    assert _types(api, key.account_id) == []
    scan_result([_logs(tmp_path / "b", key.account_id, ROOT_CALLS)], store=api.store)
    assert _types(api, key.account_id) == ["Policy:IAMUser/RootCredentialUsage"]
    # Another account's logs in the same scan are not affected.
    other = api.account()
    scan_result([_logs(tmp_path / "c", other.account_id, ROOT_LATER)], store=api.store)
    assert _types(api, other.account_id) == ["Policy:IAMUser/RootCredentialUsage"]
    assert gd.get_detector(DetectorId=did)["DataSources"]["S3Logs"]["Status"] == "DISABLED"
