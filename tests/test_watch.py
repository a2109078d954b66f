"""The watch loop on real logs: it finds what a scan of the same files finds, reads each file
once as files land, publishes new findings to a real webhook, records late and broken files,
and keeps suppressed findings to itself."""

from __future__ import annotations

import gzip
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa

from keibi.publish.delivery import Publisher
from keibi.publish.targets import WebhookTarget, verify_signature
from keibi.sources.discover import DirectoryDiscovery
from keibi.store import Store
from keibi.store.manifest import source_status
from keibi.store.tables import processed_files, published_findings
from keibi.tester import generate
from keibi.watch import Watcher, WatchSettings
from tests.dbs import sqlite_url
from tests.helpers import essence, generated_intel, scan_findings, stored_findings
from tests.receivers import Webhook

SECRET = "s3cret-for-tests"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo")
    generate(out, seed=11, scale=0.2)
    return out


def _watcher(store: Store, root: Path, demo: Path, targets: list[Any] | None = None) -> Watcher:
    return Watcher(
        store,
        [DirectoryDiscovery(root, settle_seconds=0)],
        load_intel=lambda: generated_intel(demo),
        targets=targets or [],
        watch=WatchSettings(poll_seconds=0.05),
    )


def test_watching_finds_what_a_scan_finds_and_reads_each_file_once(store: Store, demo: Path) -> None:
    root = demo / "AWSLogs"
    watcher = _watcher(store, root, demo)
    watcher.run(threading.Event(), until_idle=True)
    scanned = scan_findings(
        [root], threat_lists=[demo / "lists" / "threat.txt"], trusted_lists=[demo / "lists" / "trusted.txt"]
    )
    assert len(scanned) > 20
    assert essence(stored_findings(store)) == essence(scanned)
    files = sum(1 for p in root.rglob("*") if p.is_file())
    [status] = source_status(store, datetime.now(UTC))
    assert status.files == files and status.events > 10_000 and status.failed == 0
    # A second watcher (a restart) reads nothing again and changes nothing.
    before = essence(stored_findings(store))
    again = _watcher(store, root, demo)
    assert again.step().files == 0
    assert essence(stored_findings(store)) == before


def test_windows_left_open_are_closed_once_quiet_also_after_a_restart(tmp_path: Path, demo: Path) -> None:
    """A watcher reads everything but stops before its windows close; a restarted one, with no
    file left to read, closes them once the sources have been quiet long enough: the findings
    end as a scan's."""
    root = demo / "AWSLogs"
    with Store(sqlite_url(tmp_path)) as store:
        first = _watcher(store, root, demo)
        assert first.step().files > 100
        held = essence(stored_findings(store))
        restarted = _watcher(store, root, demo)
        assert restarted.close_windows(idle=timedelta(hours=1)) == 0  # not quiet for long enough yet
        assert restarted.close_windows(idle=timedelta(0)) > 0
        scanned = scan_findings(
            [root],
            threat_lists=[demo / "lists" / "threat.txt"],
            trusted_lists=[demo / "lists" / "trusted.txt"],
        )
        assert held != essence(scanned)
        assert essence(stored_findings(store)) == essence(scanned)


def test_files_landing_later_are_read_as_they_land(tmp_path: Path, demo: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    trails = sorted((demo / "AWSLogs").rglob("*CloudTrail*.json.gz"))
    assert len(trails) >= 6
    with Store(sqlite_url(tmp_path)) as store:
        watcher = _watcher(store, landing, demo)
        assert watcher.step().files == 0
        for batch in (trails[:3], trails[3:6]):
            for path in batch:
                shutil.copy(path, landing / path.name)
            result = watcher.step()
            assert result.files == 3 and result.events > 0
            assert watcher.step().files == 0  # nothing twice
        with store.transaction("read", read=True) as conn:
            rows = conn.execute(sa.select(processed_files.c.uri, processed_files.c.state)).all()
        assert sorted(Path(uri).name for uri, _ in rows) == sorted(p.name for p in trails[:6])
        assert {state for _, state in rows} == {"DONE"}


def test_new_findings_reach_a_webhook_once_signed(store: Store, demo: Path) -> None:
    with Webhook() as hook:
        target = WebhookTarget(name="hook", url=hook.url, secret=SECRET)
        watcher = _watcher(store, demo / "AWSLogs", demo, [target])
        watcher.run(threading.Event(), until_idle=True, publisher=Publisher(store, [target]))
        findings = {f["id"]: f for f in stored_findings(store)}
        events = hook.wait_for(len(findings))
        assert sorted(e["detail"]["id"] for e in events) == sorted(findings)
        assert len({e["id"] for e in events}) == len(events)
        for event in events:
            assert event["source"] == "aws.guardduty" and event["detail-type"] == "GuardDuty Finding"
            assert event["account"] == event["detail"]["accountId"]
        headers, body = hook.received[0]
        assert verify_signature(SECRET, headers["X-Keibi-Timestamp"], body, headers["X-Keibi-Signature"])
        assert not verify_signature("wrong", headers["X-Keibi-Timestamp"], body, headers["X-Keibi-Signature"])


def _trail(path: Path, times: list[datetime], account: str = "111122223333") -> None:
    records = [
        {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAEXAMPLE",
                "arn": f"arn:aws:iam::{account}:user/alice",
                "accountId": account,
                "accessKeyId": "AKIAEXAMPLE",
                "userName": "alice",
            },
            "eventTime": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": "s3.amazonaws.com",
            "eventName": "ListBuckets",
            "awsRegion": "us-east-1",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2.15.0",
            "requestParameters": None,
            "responseElements": None,
            "eventID": f"{path.stem}-{i}",
            "eventType": "AwsApiCall",
            "recipientAccountId": account,
        }
        for i, t in enumerate(times)
    ]
    path.write_bytes(gzip.compress(orjson.dumps({"Records": records})))


def test_late_files_are_merged_within_the_allowed_lateness_and_reported_beyond(
    tmp_path: Path, demo: Path
) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    with Store(sqlite_url(tmp_path)) as store:
        watcher = _watcher(store, landing, demo)
        _trail(landing / "a.json.gz", [t0, t0 + timedelta(minutes=1)])
        _trail(landing / "b.json.gz", [t0 + timedelta(hours=2)])  # the watermark moves on
        assert watcher.step().files == 2
        _trail(landing / "c.json.gz", [t0 + timedelta(hours=2) - timedelta(minutes=10)])  # within 15 minutes
        _trail(landing / "d.json.gz", [t0 + timedelta(minutes=30)])  # 90 minutes behind: late
        result = watcher.step()
        assert (result.files, result.late) == (2, 1)
        with store.transaction("read", read=True) as conn:
            states = dict(
                (Path(uri).name, state)
                for uri, state in conn.execute(sa.select(processed_files.c.uri, processed_files.c.state))
            )
        assert states == {"a.json.gz": "DONE", "b.json.gz": "DONE", "c.json.gz": "DONE", "d.json.gz": "LATE"}
        [status] = source_status(store, datetime.now(UTC))
        assert status.late == 1 and status.events == 5


def test_a_broken_file_is_recorded_and_the_rest_goes_on(tmp_path: Path, demo: Path) -> None:
    landing = tmp_path / "landing"
    landing.mkdir()
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    _trail(landing / "good.json.gz", [t0])
    (landing / "broken.json.gz").write_bytes(gzip.compress(b"not json at all")[:-6])
    (landing / "records.json").write_bytes(
        b'{"Records": [{"eventTime": "2026-11-01T12:05:00Z", "eventName": 5}, "not a record"]}'
    )
    with Store(sqlite_url(tmp_path)) as store:
        result = _watcher(store, landing, demo).step()
        assert result.files >= 1 and result.failed >= 1
        with store.transaction("read", read=True) as conn:
            rows = {
                Path(r.uri).name: r
                for r in conn.execute(
                    sa.select(processed_files.c.uri, processed_files.c.state, processed_files.c.detail)
                )
            }
        assert rows["good.json.gz"].state == "DONE"
        assert rows["broken.json.gz"].state == "FAILED"
        assert "broken.json.gz" in rows["broken.json.gz"].detail
        assert set(rows) == {"good.json.gz", "broken.json.gz", "records.json"}


def test_suppressed_findings_are_stored_archived_and_never_published(tmp_path: Path, demo: Path) -> None:
    """An ARCHIVE filter (GuardDuty's suppression rule) of the findings' own detector: what it
    matches is stored archived and never sent, neither new nor on later occurrences."""
    from keibi.store.detectors import create_detector, detector_for
    from keibi.store.filters import create_filter

    (tmp_path / "first").mkdir()
    with Store(sqlite_url(tmp_path / "first")) as first:
        _watcher(first, demo / "AWSLogs", demo).run(threading.Event(), until_idle=True)
        findings = stored_findings(first)
    severe = [f for f in findings if f["severity"] >= 7]
    assert severe and len(severe) < len(findings)
    now = datetime.now(UTC)
    with Store(sqlite_url(tmp_path)) as store, Webhook() as hook:
        for account, region in {(f["accountId"], f["region"]) for f in findings}:
            create_detector(store, account, region, enabled=True, frequency="SIX_HOURS", features=[], now=now)
            detector = detector_for(store, account, region)
            assert detector is not None
            create_filter(
                store,
                detector.detector_id,
                name="quiet-severe",
                action="ARCHIVE",
                rank=1,
                description="",
                criteria={"criterion": {"severity": {"greaterThanOrEqual": 7}}},
                now=now,
                arn=f"arn:aws:guardduty:{region}:{account}:detector/{detector.detector_id}/filter/quiet-severe",
            )
        target = WebhookTarget(name="hook", url=hook.url)
        _watcher(store, demo / "AWSLogs", demo, [target]).run(
            threading.Event(), until_idle=True, publisher=Publisher(store, [target])
        )
        stored = {f["id"]: f for f in stored_findings(store)}
        assert sorted(stored) == sorted(f["id"] for f in findings)
        assert {fid for fid, f in stored.items() if f["service"]["archived"]} == {f["id"] for f in severe}
        sent = sorted(e["detail"]["id"] for e in hook.wait_for(len(findings) - len(severe)))
        assert sent == sorted(f["id"] for f in findings if f["severity"] < 7)
        with store.transaction("read", read=True) as conn:
            suppressed = set(
                conn.scalars(
                    sa.select(published_findings.c.finding_id).where(published_findings.c.suppressed)
                )
            )
        assert suppressed == {f["id"] for f in severe}


def test_a_file_whose_commit_fails_once_is_read_again_not_lost(
    tmp_path: Path, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store refuses one unit (as a database restarting would): the file is not committed,
    the directory hands it out again, and the next poll reads it; nothing is lost or doubled."""
    import keibi.watch

    landing = tmp_path / "landing"
    landing.mkdir()
    t0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    _trail(landing / "a.json.gz", [t0, t0 + timedelta(minutes=1)])
    real = keibi.watch.record_usage
    calls = {"n": 0}

    def failing_once(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database restarting")
        real(*args, **kwargs)

    monkeypatch.setattr(keibi.watch, "record_usage", failing_once)
    with Store(sqlite_url(tmp_path)) as store:
        watcher = _watcher(store, landing, demo)
        first = watcher.step()
        assert (first.files, first.deferred) == (0, 1)
        second = watcher.step()
        assert (second.files, second.events, second.deferred) == (1, 2, 0)
        assert watcher.step().files == 0
        [status] = source_status(store, datetime.now(UTC))
        assert (status.files, status.events) == (1, 2)
