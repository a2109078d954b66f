"""What a scan records for GetUsageStatistics, against the generated logs read independently
(gzip + json here, not keibi's parser): every record once under its data source, account,
region, day and resource, and every byte of every file once; recorded with the checkpoints."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keibi.pipeline import Engine
from keibi.store import Store
from keibi.store.tables import processed_files, usage
from keibi.store.usage import usage_statistics
from keibi.tester import generate
from tests.helpers import FIXED_NOW, scan_result

Key = tuple[str, str, str, str, str]  # day, account, region, data source, resource


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=11, scale=0.2)
    return out


def _expected(logs: Path) -> tuple[Counter[Key], dict[str, int]]:
    """Events per key from the raw files, and the bytes of each source's files."""
    events: Counter[Key] = Counter()
    sizes: Counter[str] = Counter()
    for path in sorted(p for p in logs.rglob("*.gz") if p.is_file()):
        text = gzip.decompress(path.read_bytes()).decode()
        kind = path.relative_to(logs).parts[1]
        before = sum(events.values())
        if kind == "CloudTrail":
            for r in json.loads(text)["Records"]:
                s3_data = r["eventSource"] == "s3.amazonaws.com" and r.get("eventCategory") == "Data"
                account = r["recipientAccountId"]
                bucket = (r.get("requestParameters") or {}).get("bucketName") if s3_data else None
                source = "S3_LOGS" if s3_data else "CLOUD_TRAIL"
                events[(r["eventTime"][:10], account, r["awsRegion"], source, bucket or account)] += 1
            sizes["cloudtrail"] += path.stat().st_size
        elif kind == "vpcflowlogs":
            region = path.relative_to(logs).parts[2]
            header, *lines = text.splitlines()
            names = header.split()
            for line in lines:
                f = dict(zip(names, line.split(), strict=True))
                day = datetime.fromtimestamp(int(f["start"]), UTC).date().isoformat()
                instance = f.get("instance-id", "-")
                resource = instance if instance != "-" else f["interface-id"]
                events[(day, f["account-id"], region, "FLOW_LOGS", resource)] += 1
            sizes["vpc_flow"] += path.stat().st_size
        else:
            assert kind == "vpcdnsquerylogs"
            for line in text.splitlines():
                q = json.loads(line)
                resource = q.get("srcids", {}).get("instance") or q["vpc_id"]
                key = (q["query_timestamp"][:10], q["account_id"], q["region"], "DNS_LOGS", resource)
                events[key] += 1
            sizes["dns"] += path.stat().st_size
        assert sum(events.values()) > before, f"{path} has no record: its bytes would count nowhere"
    return events, dict(sizes)


def _recorded(store: Store) -> list[dict[str, Any]]:
    with store.transaction("read usage", read=True) as conn:
        return [dict(r) for r in conn.execute(sa.select(usage)).mappings()]


def _events(rows: list[dict[str, Any]]) -> Counter[Key]:
    out: Counter[Key] = Counter()
    for r in rows:
        key = (r["day"].isoformat(), r["account_id"], r["region"], r["data_source"], r["resource_id"])
        out[key] += r["events"]
    return out


def _bytes(rows: list[dict[str, Any]], *sources: str) -> int:
    return sum(r["bytes"] for r in rows if r["data_source"] in sources)


def _scan(demo: Path, store: Store, **kwargs: Any) -> Any:
    return scan_result([demo / "AWSLogs"], store=store, batch_rows=5_000, **kwargs)


def test_a_scan_records_every_record_and_byte_once_and_a_second_scan_nothing(
    demo: Path, tmp_path: Path
) -> None:
    expected, sizes = _expected(demo / "AWSLogs")
    with Store.for_data_dir(tmp_path) as store:
        report = _scan(demo, store).report
        rows = _recorded(store)
        assert _events(rows) == expected
        assert {r["recorded_at"] for r in rows} == {FIXED_NOW}
        per_source = Counter[str]()
        for (_, _, _, source, _), n in expected.items():
            per_source[source] += n
        assert per_source["S3_LOGS"] > 0 and per_source["CLOUD_TRAIL"] > 0
        assert per_source["CLOUD_TRAIL"] + per_source["S3_LOGS"] == report.records["cloudtrail"]
        assert per_source["FLOW_LOGS"] == report.records["vpc_flow"]
        assert per_source["DNS_LOGS"] == report.records["dns"]
        assert _bytes(rows, "CLOUD_TRAIL", "S3_LOGS") == sizes["cloudtrail"] == report.bytes["cloudtrail"]
        assert _bytes(rows, "FLOW_LOGS") == sizes["vpc_flow"] == report.bytes["vpc_flow"]
        assert _bytes(rows, "DNS_LOGS") == sizes["dns"] == report.bytes["dns"]

        again = _scan(demo, store)
        assert again.already_scanned > 0 and sum(again.report.records.values()) == 0
        assert _recorded(store) == rows  # files already scanned are left out: nothing added

        _scan(demo, store, rescan=True)  # read again, so analysed (and counted) again
        twice = _events(_recorded(store))
        assert twice == Counter({key: 2 * n for key, n in expected.items()})


def test_the_statistics_of_a_scan(demo: Path, tmp_path: Path) -> None:
    """GetUsageStatistics over what the scan recorded: events per data source of the scanned
    account and region, and nothing for an account the caller does not hold."""
    expected, _ = _expected(demo / "AWSLogs")
    [account] = {key[1] for key in expected}
    with Store.for_data_dir(tmp_path) as store:
        _scan(demo, store)
        request = {"usageStatisticsType": "SUM_BY_DATA_SOURCE", "usageCriteria": {}, "unit": "EVENTS"}
        body = usage_statistics(
            store, account_ids=[account], region="us-east-1", request=request, now=FIXED_NOW
        )[0]
        by_source = Counter[str]()
        for (_, _, region, source, _), n in expected.items():
            if region == "us-east-1":
                by_source[source] += n
        assert {
            e["dataSource"]: int(e["total"]["amount"]) for e in body["usageStatistics"]["sumByDataSource"]
        } == (dict(by_source))
        assert usage_statistics(
            store, account_ids=["000000000000"], region="us-east-1", request=request, now=FIXED_NOW
        )[0] == {"usageStatistics": {"sumByDataSource": []}}


@pytest.mark.parametrize("where", ["feed", "finish"])
def test_a_scan_that_fails_records_nothing(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """A scan that dies while reading, or while storing its findings, records no usage and no
    checkpoint; the next scan reads every file and counts each record once."""
    calls = Counter[str]()
    original = getattr(Engine, where)

    def failing(self: Engine, *args: Any) -> Any:
        calls[where] += 1
        if calls[where] == 3 or where == "finish":
            raise RuntimeError("the machine went away")
        return original(self, *args)

    expected, _ = _expected(demo / "AWSLogs")
    with Store.for_data_dir(tmp_path) as store:
        with monkeypatch.context() as patch:
            patch.setattr(Engine, where, failing)
            with pytest.raises(RuntimeError, match="went away"):
                _scan(demo, store)
        assert _recorded(store) == []
        with store.transaction("read checkpoints", read=True) as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(processed_files)).scalar() == 0
        _scan(demo, store)
        assert _events(_recorded(store)) == expected


def test_files_parsed_in_worker_processes_count_the_same(demo: Path, tmp_path: Path) -> None:
    with Store.for_data_dir(tmp_path / "one") as one, Store.for_data_dir(tmp_path / "pool") as pool:
        _scan(demo, one)
        _scan(demo, pool, parse_workers=2)

        def essence(store: Store) -> list[tuple[Any, ...]]:
            return sorted(
                (
                    r["day"],
                    r["account_id"],
                    r["region"],
                    r["data_source"],
                    r["resource_id"],
                    r["events"],
                    r["bytes"],
                )
                for r in _recorded(store)
            )

        assert essence(pool) == essence(one)
        assert {r[3] for r in essence(one)} == {"CLOUD_TRAIL", "S3_LOGS", "FLOW_LOGS", "DNS_LOGS"}
