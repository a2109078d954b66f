"""Usage accounting (``UsageTally``: real log lines through the real parser) and GetUsageStatistics
over the ``usage`` table, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa

from keibi.sources import Report, SourceName, plan, read
from keibi.store import Store
from keibi.store import usage as usage_module
from keibi.store.tables import usage
from keibi.store.usage import (
    GB,
    TOP,
    WINDOW,
    UsageError,
    UsageRow,
    UsageTally,
    record_usage,
    usage_statistics,
)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
DAY = date(2026, 11, 20)
A, B, OUTSIDE = "111111111111", "222222222222", "999999999999"
REGION = "us-east-1"


# -- counting: real log lines through the real parser ------------------------------------------

CLOUDTRAIL = """{"Records": [
{"eventVersion": "1.09", "eventTime": "2026-11-20T10:00:00Z", "eventSource": "s3.amazonaws.com",
 "eventName": "GetObject", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
 "eventCategory": "Data", "managementEvent": false, "recipientAccountId": "111111111111",
 "requestParameters": {"bucketName": "photos", "key": "a.jpg"}, "eventID": "e1"},
{"eventVersion": "1.09", "eventTime": "2026-11-20T10:01:00Z", "eventSource": "s3.amazonaws.com",
 "eventName": "PutObject", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
 "eventCategory": "Data", "managementEvent": false, "recipientAccountId": "111111111111",
 "requestParameters": {"key": "b.jpg", "bucketName": "photos", "x": {"bucketName": "nested"}},
 "eventID": "e2"},
{"eventVersion": "1.07", "eventTime": "2026-11-20T10:02:00Z", "eventSource": "s3.amazonaws.com",
 "eventName": "GetObject", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
 "managementEvent": false, "recipientAccountId": "111111111111",
 "requestParameters": {"bucketName": "old-logs"}, "eventID": "e3"},
{"eventVersion": "1.09", "eventTime": "2026-11-20T10:03:00Z", "eventSource": "s3.amazonaws.com",
 "eventName": "GetBucketAcl", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
 "eventCategory": "Management", "managementEvent": true, "recipientAccountId": "111111111111",
 "requestParameters": {"bucketName": "photos", "acl": ""}, "eventID": "e4"},
{"eventVersion": "1.09", "eventTime": "2026-11-21T00:00:01Z", "eventSource": "iam.amazonaws.com",
 "eventName": "ListUsers", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
 "eventCategory": "Management", "managementEvent": true, "recipientAccountId": "111111111111",
 "eventID": "e5"},
{"eventVersion": "1.09", "eventTime": "2026-11-20T10:04:00Z", "eventSource": "s3.amazonaws.com",
 "eventName": "GetObject", "awsRegion": "us-east-1", "sourceIPAddress": "10.0.0.1",
 "eventCategory": "Data", "managementEvent": false, "recipientAccountId": "111111111111",
 "eventID": "e6"}
]}
"""

FLOW = (
    "version account-id interface-id instance-id srcaddr dstaddr srcport dstport protocol packets bytes "
    "start end action log-status\n"
    "5 111111111111 eni-0aaa i-0web 10.0.0.5 10.0.0.6 443 5000 6 1 40 1795168800 1795168860 ACCEPT OK\n"
    "5 111111111111 eni-0aaa i-0web 10.0.0.5 10.0.0.6 443 5001 6 1 40 1795168800 1795168860 ACCEPT OK\n"
    "5 111111111111 eni-0bbb - 10.0.0.7 10.0.0.6 443 5002 6 1 40 1795168800 1795168860 ACCEPT OK\n"
)

DNS = (
    '{"version":"1.100000","account_id":"222222222222","region":"eu-west-1","vpc_id":"vpc-0one",'
    '"query_timestamp":"2026-11-20T10:00:00Z","query_name":"a.example.","query_type":"A",'
    '"query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.2.5","srcport":"5353",'
    '"transport":"UDP","srcids":{"instance":"i-0dns"}}\n'
    '{"version":"1.100000","account_id":"222222222222","region":"eu-west-1","vpc_id":"vpc-0one",'
    '"query_timestamp":"2026-11-20T10:00:01Z","query_name":"b.example.","query_type":"A",'
    '"query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.0.2.6","srcport":"5353",'
    '"transport":"UDP","srcids":{"resolver_endpoint":"rslvr-in-1"}}\n'
)


def _frames(path: Path) -> tuple[SourceName, list[pl.DataFrame]]:
    """``path`` parsed as the pipeline parses it, in frames of two records."""
    report = Report()
    [planned] = plan([str(path)], report)
    frames = list(read(planned, report, batch_rows=2))
    assert report.ok and frames
    return planned.source, frames


def _tally(tmp_path: Path, files: Mapping[str, str]) -> tuple[pl.DataFrame, dict[str, int]]:
    tally = UsageTally()
    sizes: dict[str, int] = {}
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text)
        source, frames = _frames(path)
        for frame in frames:
            tally.add(source, frame)
        sizes[name] = path.stat().st_size
        tally.end_file(sizes[name])
    return tally.rows(), sizes


def _events(rows: pl.DataFrame) -> dict[tuple[Any, ...], int]:
    return {
        (r["day"], r["account_id"], r["region"], r["data_source"], r["resource_id"]): r["events"]
        for r in rows.to_dicts()
    }


def test_each_record_counts_once_under_its_data_source_and_resource(tmp_path: Path) -> None:
    """S3 data events (also pre-2021 ones without eventCategory) count under S3_LOGS by bucket
    (the top-level bucketName, not a nested one); S3 management calls and other events under
    CLOUD_TRAIL by account; flow records by instance, else ENI (region from the path, as
    v5 records without ``region`` get it); DNS queries by instance, else VPC; days in UTC."""
    flow_dir = tmp_path / "AWSLogs" / A / "vpcflowlogs" / "us-west-2" / "2026" / "11" / "20"
    flow_dir.mkdir(parents=True)
    rows, _ = _tally(
        tmp_path,
        {
            "trail.json": CLOUDTRAIL,
            "AWSLogs/111111111111/vpcflowlogs/us-west-2/2026/11/20/flow.log": FLOW,
            "dns.log": DNS,
        },
    )
    next_day = date(2026, 11, 21)
    assert _events(rows) == {
        (DAY, A, "us-east-1", "S3_LOGS", "photos"): 2,
        (DAY, A, "us-east-1", "S3_LOGS", "old-logs"): 1,
        (DAY, A, "us-east-1", "S3_LOGS", A): 1,
        (DAY, A, "us-east-1", "CLOUD_TRAIL", A): 1,
        (next_day, A, "us-east-1", "CLOUD_TRAIL", A): 1,
        (DAY, A, "us-west-2", "FLOW_LOGS", "i-0web"): 2,
        (DAY, A, "us-west-2", "FLOW_LOGS", "eni-0bbb"): 1,
        (DAY, B, "eu-west-1", "DNS_LOGS", "i-0dns"): 1,
        (DAY, B, "eu-west-1", "DNS_LOGS", "vpc-0one"): 1,
    }
    assert rows.schema == usage_module.SCHEMA


def test_a_files_size_is_spread_over_its_records_exactly(tmp_path: Path) -> None:
    rows, sizes = _tally(tmp_path, {"trail.json": CLOUDTRAIL, "dns.log": DNS})
    trail = rows.filter(pl.col("data_source").is_in(["S3_LOGS", "CLOUD_TRAIL"]))
    assert trail["bytes"].sum() == sizes["trail.json"]
    for row in trail.to_dicts():  # each key its share, rounded down or up
        share = sizes["trail.json"] * row["events"] / 6
        assert int(share) <= row["bytes"] <= int(share) + 1
    dns = rows.filter(pl.col("data_source") == "DNS_LOGS")
    assert sorted(dns["bytes"]) == sorted([sizes["dns.log"] // 2, sizes["dns.log"] - sizes["dns.log"] // 2])


def test_counting_in_small_batches_and_spreading_often_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames are counted a batch at a time and files' sizes spread when enough counts are held;
    a file split over two batches, or counts spread after every batch, give the same rows."""
    files = {"trail.json": CLOUDTRAIL, "dns.log": DNS, "trail2.json": CLOUDTRAIL}
    expected, _ = _tally(tmp_path, files)
    monkeypatch.setattr(usage_module, "COUNT_ROWS", 3)
    monkeypatch.setattr(usage_module, "COMPACT_ROWS", 1)
    often, _ = _tally(tmp_path, files)
    key = list(usage_module.KEY)
    assert often.sort(key).equals(expected.sort(key))
    assert expected["events"].sum() == 14


def test_a_file_not_ended_or_without_records_adds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "dns.log"
    path.write_text(DNS)
    source, frames = _frames(path)
    tally = UsageTally()
    tally.end_file(1234)  # a file that gave no record: nothing to spread its size over
    for frame in frames:
        tally.add(source, frame)
    assert tally.rows().is_empty()  # its last frame is in, but the scan has not ended it
    tally.end_file(path.stat().st_size)
    assert tally.rows()["bytes"].sum() == path.stat().st_size


# -- recording ---------------------------------------------------------------------------------


def _stored(store: Store) -> list[dict[str, Any]]:
    with store.transaction("read", read=True) as conn:
        return [dict(r) for r in conn.execute(sa.select(usage).order_by(usage.c.id)).mappings()]


def test_record_usage_appends_rows_and_frames(store: Store) -> None:
    record_usage(store, [UsageRow(DAY, A, REGION, "FLOW_LOGS", "eni-1", 3, 300)], at=NOW)
    frame = pl.DataFrame(
        {
            "day": [None, DAY],
            "account_id": [A, A],
            "region": [REGION, REGION],
            "data_source": ["S3_LOGS", "CLOUD_TRAIL"],
            "resource_id": ["b" * 300, A],
            "events": [2, 0],
            "bytes": [20, 0],
        },
        schema=usage_module.SCHEMA,
    )
    record_usage(store, frame, at=NOW - timedelta(days=1))
    record_usage(store, [], at=NOW)
    stored = _stored(store)
    assert [(r["day"], r["data_source"], r["events"], r["bytes"], r["recorded_at"]) for r in stored] == [
        (DAY, "FLOW_LOGS", 3, 300, NOW),
        # no day: the day it was recorded; an empty key (no event) is not stored
        (date(2026, 11, 23), "S3_LOGS", 2, 20, NOW - timedelta(days=1)),
    ]
    assert stored[1]["resource_id"] == "b" * 256  # cut to fit the column


# -- GetUsageStatistics ------------------------------------------------------------------------


def _gb(n: float) -> int:
    return int(n * GB)


@pytest.fixture
def recorded(store: Store) -> Store:
    """A: flow 3 GB (two instances), S3 1 GB, CloudTrail 0.5 GB; B: DNS 2 GB, flow 0.25 GB;
    plus rows the caller must never see: another account, another region, 31 days old."""
    rows = [
        UsageRow(DAY, A, REGION, "FLOW_LOGS", "i-web", 100, _gb(2)),
        UsageRow(DAY, A, REGION, "FLOW_LOGS", "i-db", 50, _gb(0.75)),
        UsageRow(DAY + timedelta(days=1), A, REGION, "FLOW_LOGS", "i-db", 10, _gb(0.25)),
        UsageRow(DAY, A, REGION, "S3_LOGS", "photos", 40, _gb(1)),
        UsageRow(DAY, A, REGION, "CLOUD_TRAIL", A, 1000, _gb(0.5)),
        UsageRow(DAY, B, REGION, "DNS_LOGS", "i-dns", 7, _gb(2)),
        UsageRow(DAY, B, REGION, "FLOW_LOGS", "i-web", 5, _gb(0.25)),
        UsageRow(DAY, OUTSIDE, REGION, "FLOW_LOGS", "i-other", 10**6, _gb(100)),
        UsageRow(DAY, A, "eu-west-1", "FLOW_LOGS", "i-eu", 10**6, _gb(100)),
    ]
    record_usage(store, rows, at=NOW - timedelta(days=2))
    record_usage(
        store,
        [UsageRow(DAY, A, REGION, "FLOW_LOGS", "i-old", 9, _gb(9))],
        at=NOW - WINDOW - timedelta(seconds=1),
    )
    return store


def _stats(
    store: Store,
    kind: str,
    criteria: Mapping[str, Any] | None = None,
    offset: int = 0,
    limit: int = 50,
    **extra: Any,
) -> dict[str, Any]:
    """The body, with ``more`` saying whether another page follows."""
    request = {"usageStatisticsType": kind, "usageCriteria": dict(criteria or {}), **extra}
    body, more = usage_statistics(
        store, account_ids=[A, B], region=REGION, request=request, offset=offset, limit=limit, now=NOW
    )
    return {**body, "more": more}


def _totals(body: dict[str, Any], member: str, field: str) -> list[tuple[str, str, str]]:
    [(key, entries)] = body["usageStatistics"].items()
    assert key == member
    return [(e[field], e["total"]["amount"], e["total"]["unit"]) for e in entries]


def test_sum_by_account_in_gb_largest_first(recorded: Store) -> None:
    body = _stats(recorded, "SUM_BY_ACCOUNT")
    assert _totals(body, "sumByAccount", "accountId") == [(A, "4.5", "GB"), (B, "2.25", "GB")]
    assert not body["more"]


def test_usd_is_answered_in_gb_and_events_count_events(recorded: Store) -> None:
    assert _totals(_stats(recorded, "SUM_BY_ACCOUNT", unit="USD"), "sumByAccount", "accountId") == [
        (A, "4.5", "GB"),
        (B, "2.25", "GB"),
    ]
    assert _totals(_stats(recorded, "SUM_BY_ACCOUNT", unit="EVENTS"), "sumByAccount", "accountId") == [
        (A, "1200", "EVENTS"),
        (B, "12", "EVENTS"),
    ]


def test_sum_by_data_source_and_by_feature(recorded: Store) -> None:
    assert _totals(_stats(recorded, "SUM_BY_DATA_SOURCE"), "sumByDataSource", "dataSource") == [
        ("FLOW_LOGS", "3.25", "GB"),
        ("DNS_LOGS", "2", "GB"),
        ("S3_LOGS", "1", "GB"),
        ("CLOUD_TRAIL", "0.5", "GB"),
    ]
    assert _totals(_stats(recorded, "SUM_BY_FEATURES", unit="EVENTS"), "sumByFeature", "feature") == [
        ("CLOUD_TRAIL", "1000", "EVENTS"),
        ("FLOW_LOGS", "165", "EVENTS"),
        ("S3_DATA_EVENTS", "40", "EVENTS"),
        ("DNS_LOGS", "7", "EVENTS"),
    ]


def test_sum_by_resource_and_top_resources(recorded: Store) -> None:
    expected = [
        ("i-web", "2.25", "GB"),
        ("i-dns", "2", "GB"),
        ("i-db", "1", "GB"),
        ("photos", "1", "GB"),
        (A, "0.5", "GB"),
    ]
    assert _totals(_stats(recorded, "SUM_BY_RESOURCE"), "sumByResource", "resource") == expected
    assert _totals(_stats(recorded, "TOP_RESOURCES"), "topResources", "resource") == expected


def test_top_accounts_by_feature(recorded: Store) -> None:
    body = _stats(recorded, "TOP_ACCOUNTS_BY_FEATURE")
    assert body["usageStatistics"] == {
        "topAccountsByFeature": [
            {
                "feature": "FLOW_LOGS",
                "accounts": [
                    {"accountId": A, "total": {"amount": "3", "unit": "GB"}},
                    {"accountId": B, "total": {"amount": "0.25", "unit": "GB"}},
                ],
            },
            {"feature": "DNS_LOGS", "accounts": [{"accountId": B, "total": {"amount": "2", "unit": "GB"}}]},
            {
                "feature": "S3_DATA_EVENTS",
                "accounts": [{"accountId": A, "total": {"amount": "1", "unit": "GB"}}],
            },
            {
                "feature": "CLOUD_TRAIL",
                "accounts": [{"accountId": A, "total": {"amount": "0.5", "unit": "GB"}}],
            },
        ]
    }


def test_criteria_narrow_within_the_callers_accounts(recorded: Store) -> None:
    by_account = _stats(recorded, "SUM_BY_ACCOUNT", {"accountIds": [B, OUTSIDE]})
    assert _totals(by_account, "sumByAccount", "accountId") == [(B, "2.25", "GB")]
    # an account outside the caller's is not there to see, whatever the criteria ask
    assert _stats(recorded, "SUM_BY_ACCOUNT", {"accountIds": [OUTSIDE]}) == {
        "usageStatistics": {"sumByAccount": []},
        "more": False,
    }
    sources = _stats(recorded, "SUM_BY_RESOURCE", {"dataSources": ["FLOW_LOGS"]})
    assert _totals(sources, "sumByResource", "resource") == [("i-web", "2.25", "GB"), ("i-db", "1", "GB")]
    features = _stats(recorded, "SUM_BY_DATA_SOURCE", {"features": ["S3_DATA_EVENTS", "DNS_LOGS"]})
    assert _totals(features, "sumByDataSource", "dataSource") == [
        ("DNS_LOGS", "2", "GB"),
        ("S3_LOGS", "1", "GB"),
    ]
    both = _stats(
        recorded, "SUM_BY_FEATURES", {"dataSources": ["FLOW_LOGS", "DNS_LOGS"], "features": ["FLOW_LOGS"]}
    )
    assert _totals(both, "sumByFeature", "feature") == [("FLOW_LOGS", "3.25", "GB")]
    resources = _stats(recorded, "SUM_BY_ACCOUNT", {"resources": ["i-web"]}, unit="EVENTS")
    assert _totals(resources, "sumByAccount", "accountId") == [(A, "100", "EVENTS"), (B, "5", "EVENTS")]
    unknown = _stats(recorded, "SUM_BY_FEATURES", {"features": ["EKS_AUDIT_LOGS"]})
    assert unknown == {"usageStatistics": {"sumByFeature": []}, "more": False}


def test_the_boundary_holds_without_criteria(recorded: Store) -> None:
    """Only the caller's accounts, its region and the last 30 days: the other account's, the
    other region's and the old rows never show, and an empty boundary sees nothing."""
    only_b = usage_statistics(
        recorded,
        account_ids=[B],
        region=REGION,
        request={"usageStatisticsType": "SUM_BY_RESOURCE", "usageCriteria": {}},
        now=NOW,
    )[0]
    assert _totals(only_b, "sumByResource", "resource") == [("i-dns", "2", "GB"), ("i-web", "0.25", "GB")]
    eu = usage_statistics(
        recorded,
        account_ids=[A],
        region="eu-west-1",
        request={"usageStatisticsType": "SUM_BY_RESOURCE", "usageCriteria": {}},
        now=NOW,
    )[0]
    assert _totals(eu, "sumByResource", "resource") == [("i-eu", "100", "GB")]
    nobody = usage_statistics(
        recorded, account_ids=[], region=REGION, request={"usageStatisticsType": "SUM_BY_ACCOUNT"}, now=NOW
    )[0]
    assert nobody == {"usageStatistics": {"sumByAccount": []}}
    later = usage_statistics(  # 29 days on, only the rows recorded two days before NOW are in the window
        recorded,
        account_ids=[A],
        region=REGION,
        request={"usageStatisticsType": "SUM_BY_RESOURCE", "usageCriteria": {"resources": ["i-old", "i-db"]}},
        now=NOW - timedelta(days=2) + WINDOW,
    )[0]
    assert _totals(later, "sumByResource", "resource") == [("i-db", "1", "GB")]
    earlier = usage_statistics(  # the old rows were in the window when they were recorded
        recorded,
        account_ids=[A],
        region=REGION,
        request={"usageStatisticsType": "SUM_BY_RESOURCE", "usageCriteria": {"resources": ["i-old"]}},
        now=NOW - WINDOW,
    )[0]
    assert _totals(earlier, "sumByResource", "resource") == [("i-old", "9", "GB")]


def test_pages_follow_to_the_end(recorded: Store) -> None:
    first = _stats(recorded, "SUM_BY_RESOURCE", limit=2)
    assert [e["resource"] for e in first["usageStatistics"]["sumByResource"]] == ["i-web", "i-dns"]
    second = _stats(recorded, "SUM_BY_RESOURCE", offset=2, limit=2)
    assert [e["resource"] for e in second["usageStatistics"]["sumByResource"]] == ["i-db", "photos"]
    third = _stats(recorded, "SUM_BY_RESOURCE", offset=4, limit=2)
    assert [e["resource"] for e in third["usageStatistics"]["sumByResource"]] == [A]
    assert first["more"] and second["more"] and not third["more"]


def test_top_resources_are_the_top_fifty(store: Store) -> None:
    rows = [UsageRow(DAY, A, REGION, "FLOW_LOGS", f"i-{n:03d}", n, n * 1000) for n in range(1, TOP + 11)]
    record_usage(store, rows, at=NOW)
    pages: list[str] = []
    offset = 0
    while True:
        body = _stats(store, "TOP_RESOURCES", unit="EVENTS", offset=offset, limit=20)
        pages += [e["resource"] for e in body["usageStatistics"]["topResources"]]
        offset += 20
        if not body["more"]:
            break
    assert pages == [f"i-{n:03d}" for n in range(TOP + 10, 10, -1)]
    everything = _stats(store, "SUM_BY_RESOURCE", unit="EVENTS")
    assert len(everything["usageStatistics"]["sumByResource"]) == TOP
    assert everything["more"]


def test_gb_amounts_are_decimal_strings(store: Store) -> None:
    record_usage(store, [UsageRow(DAY, A, REGION, "DNS_LOGS", "i-1", 1, 1536)], at=NOW)
    [(_, amount, unit)] = _totals(_stats(store, "SUM_BY_ACCOUNT"), "sumByAccount", "accountId")
    assert unit == "GB" and amount == "0.000001431" and Decimal(amount) == round(Decimal(1536) / GB, 9)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"usageStatisticsType": "SUM_BY_COLOUR"}, "usageStatisticsType"),
        ({"usageStatisticsType": "SUM_BY_ACCOUNT", "unit": "EUR"}, "unit"),
        ({"usageStatisticsType": "SUM_BY_ACCOUNT", "usageCriteria": {"accountIds": A}}, "accountIds"),
    ],
)
def test_requests_keibi_cannot_answer_are_refused(
    store: Store, request_: dict[str, Any], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        usage_statistics(store, account_ids=[A], region=REGION, request=request_, now=NOW)[0]
