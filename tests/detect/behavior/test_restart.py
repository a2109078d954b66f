"""A backfill stopped and resumed gives the findings of one uninterrupted scan.

Profiles are saved when a scan ends and loaded when the next starts, and novelty is decided on
event time (``keibi.detect.behavior.profile``), so a month of archived logs read in one scan,
in three scans (a restart at each day boundary where it was stopped), or in tiny batches, learns
and detects the same: same finding ids, types, counts and first/last seen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from keibi.store import FindingQuery, Store
from tests.detect.behavior._history import (
    ATTACKER_IP,
    HOME_IP,
    OFFICE_IP,
    START,
    day,
    flow,
    role_call,
    user_call,
    write_cloudtrail,
    write_flows,
)
from tests.helpers import essence, scan_result

WEB = "i-0a1b2c3d4e5f60718"
DAYS = 24


def _events() -> list[dict[str, Any]]:
    events = []
    for d in range(DAYS):
        for hour, api in ((9, "DescribeInstances"), (11, "ListBuckets"), (15, "GetCallerIdentity")):
            ip = OFFICE_IP if d % 7 < 5 else HOME_IP
            source = {"DescribeInstances": "ec2", "ListBuckets": "s3", "GetCallerIdentity": "sts"}[api]
            events.append(user_call(day(d, hour), "alice", f"{source}.amazonaws.com", api, ip=ip))
        events.append(
            role_call(day(d, 2), "deployer", "ci", "cloudformation.amazonaws.com", "DescribeStacks")
        )
    # Day 22: alice's key, from a VPS abroad, with a tool she never used.
    for minute, (source, api) in enumerate(
        [("iam", "ListUsers"), ("iam", "ListRoles"), ("iam", "CreateAccessKey"), ("iam", "AttachUserPolicy")]
    ):
        events.append(
            user_call(
                day(22, 3, minute),
                "alice",
                f"{source}.amazonaws.com",
                api,
                ip=ATTACKER_IP,
                user_agent="python-requests/2.31.0",
            )
        )
    return events


def _flows() -> list[str]:
    lines = []
    for d in range(DAYS):
        for hour in range(0, 24, 3):
            lines.append(flow(day(d, hour), WEB, "10.0.1.10", "93.184.216.34", 443))
    for minute in range(5):
        lines.append(flow(day(22, 4, minute), WEB, "10.0.1.10", "198.51.100.77", 6667))
    return lines


def _all(store: Store) -> list[dict[str, Any]]:
    return store.list_findings(FindingQuery(limit=10_000))


def test_a_backfill_resumed_twice_equals_one_scan(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    write_cloudtrail(logs, _events())
    write_flows(logs, _flows())
    whole = Store.for_data_dir(tmp_path / "one")
    scan_result([logs], store=whole)
    expected = essence(_all(whole))
    assert expected, "the month raises behaviour findings"
    assert {t for _, t, *_ in expected} >= {
        "PrivilegeEscalation:IAMUser/AnomalousBehavior",
        "Behavior:EC2/NetworkPortUnusual",
    }

    # The same month in three scans, stopped after day 10 and after day 21.
    resumed = Store.for_data_dir(tmp_path / "three")
    for first, last in ((0, 10), (11, 21), (22, DAYS - 1)):
        part = tmp_path / f"part-{first}"
        write_cloudtrail(part, [e for e in _events() if first <= int(e["eventTime"][8:10]) - 1 <= last])
        write_flows(part, [f for f in _flows() if first <= _flow_day(f) <= last])
        scan_result([part], store=resumed)
    assert essence(_all(resumed)) == expected

    # And in batches of 200 records.
    small = Store.for_data_dir(tmp_path / "small")
    scan_result([logs], store=small, batch_rows=200)
    assert essence(_all(small)) == expected
    for store in (whole, resumed, small):
        store.close()


def _flow_day(line: str) -> int:
    return (datetime.fromtimestamp(int(line.split()[11]), UTC) - START).days
