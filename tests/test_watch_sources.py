"""The watch loop on remote sources, with real boto3 against moto's server: an S3 prefix, an SQS
queue fed by S3 event notifications (directly, and through an SNS topic), and a bucket that
does not exist beside a local directory.

Reads are counted where the loop reads a file (``keibi.watch.read``), so "each file once" is
measured, not inferred from the manifest the loop itself writes.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import keibi.sources
import keibi.watch
from keibi.sources.discover import S3PrefixDiscovery, SqsDiscovery
from keibi.store import Store
from keibi.store.manifest import load_markers
from keibi.store.tables import processed_files
from keibi.tester import generate
from keibi.watch import Watcher, WatchSettings, open_sources
from tests.dbs import sqlite_url
from tests.helpers import essence, generated_intel, scan_findings, stored_findings

VISIBILITY = 1  # seconds a received SQS message stays invisible: short, so redelivery is quick


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sources-demo")
    generate(out, seed=11, scale=0.2)
    return out


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(sqlite_url(tmp_path)) as opened:
        yield opened


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The uri of every file the watch loop reads, in order."""
    seen: list[str] = []
    real = keibi.sources.read  # what keibi.watch imported as ``read``

    def counting(item: Any, *args: Any, **kwargs: Any) -> Any:
        seen.append(item.file.uri)
        return real(item, *args, **kwargs)

    monkeypatch.setattr(keibi.watch, "read", counting)
    return seen


def _subset(demo: Path) -> tuple[list[Path], list[Path]]:
    """One account's us-east-1 CloudTrail and one flow log's files, each in time order."""
    account = next((demo / "AWSLogs").iterdir())
    trails = sorted((account / "CloudTrail" / "us-east-1").rglob("*.json.gz"))
    flows = sorted(p for p in (account / "vpcflowlogs").rglob("*.log.gz") if "fl-9b07" in p.name)
    assert len(trails) >= 10 and len(flows) >= 10
    return trails, flows


def _scanned(demo: Path, paths: list[Path]) -> list[dict[str, Any]]:
    return scan_findings(
        paths, threat_lists=[demo / "lists" / "threat.txt"], trusted_lists=[demo / "lists" / "trusted.txt"]
    )


def _watcher(store: Store, uris: list[str], demo: Path) -> Watcher:
    return Watcher(
        store,
        open_sources(uris, settle_seconds=0),
        load_intel=lambda: generated_intel(demo),
        watch=WatchSettings(poll_seconds=0.05),
    )


def _manifest(store: Store) -> dict[str, str]:
    with store.transaction("read", read=True) as conn:
        return {
            uri: state
            for uri, state in conn.execute(sa.select(processed_files.c.uri, processed_files.c.state))
        }


def _upload(client: Any, bucket: str, demo: Path, paths: list[Path], prefix: str) -> list[str]:
    """Puts ``paths`` under ``prefix`` keeping their AWSLogs layout; returns their s3:// uris."""
    uris = []
    for path in paths:
        key = f"{prefix}{path.relative_to(demo).as_posix()}"
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        uris.append(f"s3://{bucket}/{key}")
    return uris


# -- S3 prefixes ---------------------------------------------------------------------------------


def test_an_s3_prefix_is_watched_like_a_scan_and_each_object_read_once(
    s3_bucket: tuple[Any, str], demo: Path, store: Store, reads: list[str]
) -> None:
    client, bucket = s3_bucket
    trails, flows = _subset(demo)
    first = trails[:-3] + flows[:-3]
    later = trails[-3:] + flows[-3:]
    client.put_object(Bucket=bucket, Key="elsewhere/AWSLogs/not-watched.json", Body=b"{}")
    first_uris = _upload(client, bucket, demo, first, "watched/")

    watcher = _watcher(store, [f"s3://{bucket}/watched"], demo)
    [source] = watcher.sources
    assert isinstance(source, S3PrefixDiscovery)
    watcher.run(threading.Event(), until_idle=True)

    scanned = _scanned(demo, first)
    assert len(scanned) > 10
    assert essence(stored_findings(store)) == essence(scanned)
    assert sorted(reads) == sorted(first_uris)  # each once, and nothing outside the prefix
    assert _manifest(store) == dict.fromkeys(first_uris, "DONE")
    markers = load_markers(store, source.name)
    partitions = {"/".join(u.removeprefix(f"s3://{bucket}/").split("/")[:5]) + "/" for u in first_uris}
    assert set(markers) == partitions  # one marker per log partition, at its newest key
    assert sorted(markers.values()) == sorted(
        max(u.removeprefix(f"s3://{bucket}/") for u in first_uris if p in u) for p in partitions
    )

    # New objects: the next poll reads those and only those.
    del reads[:]
    later_uris = _upload(client, bucket, demo, later, "watched/")
    result = watcher.step()
    assert (result.files, result.failed, result.skipped) == (len(later), 0, 0)
    assert sorted(reads) == sorted(later_uris)
    assert watcher.step().files == 0

    # A restart reads nothing again: the saved markers start the listing after what was done.
    del reads[:]
    before = essence(stored_findings(store))
    again = _watcher(store, [f"s3://{bucket}/watched"], demo)
    restarted = again.step()
    assert (restarted.files, restarted.skipped) == (0, 0)
    assert reads == []
    assert essence(stored_findings(store)) == before
    assert len(_manifest(store)) == len(first) + len(later)


def test_an_unreachable_bucket_does_not_stop_a_local_directory(
    s3_bucket: tuple[Any, str], demo: Path, store: Store, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    trails, _ = _subset(demo)
    landing = tmp_path / "landing"
    landing.mkdir()
    for path in trails[:4]:
        (landing / path.name).write_bytes(path.read_bytes())
    missing = f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/logs"
    watcher = _watcher(store, [missing, str(landing)], demo)
    with caplog.at_level(logging.WARNING, logger="keibi.watch"):
        result = watcher.step()
    assert (result.files, result.failed) == (4, 0)
    assert sorted(_manifest(store)) == sorted(str(landing / p.name) for p in trails[:4])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith(f"{missing}: cannot poll") for m in warnings), warnings
    assert load_markers(store, watcher.sources[0].name) == {}


# -- SQS queues of S3 notifications ---------------------------------------------------------------


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(
        QueueName=f"trail-{uuid.uuid4().hex[:8]}", Attributes={"VisibilityTimeout": str(VISIBILITY)}
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    attrs = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def _wait_for_messages(sqs: Any, url: str, n: int, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while sum(_depth(sqs, url)) < n and time.monotonic() < end:
        time.sleep(0.05)
    assert sum(_depth(sqs, url)) >= n


def _notify_queue(s3: Any, bucket: str, queue_arn: str) -> None:
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )


def _notify_topic(s3: Any, bucket: str, queue_arn: str) -> None:
    import boto3

    sns = boto3.client("sns")
    topic = sns.create_topic(Name=f"trail-{uuid.uuid4().hex[:8]}")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)  # not raw: SNS's envelope
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]
        },
    )


def _assert_empty_after_visibility(sqs: Any, url: str) -> None:
    """Nothing waiting now, nothing in flight, and nothing coming back once a visibility
    timeout has passed (an unacknowledged message would)."""
    assert _depth(sqs, url) == (0, 0)
    time.sleep(VISIBILITY + 0.2)
    assert _depth(sqs, url) == (0, 0)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


@pytest.mark.parametrize("route", ["s3-to-sqs", "s3-to-sns-to-sqs"])
def test_an_sqs_queue_of_notifications_reads_each_object_once_and_acks(
    route: str, s3_bucket: tuple[Any, str], demo: Path, store: Store, reads: list[str]
) -> None:
    import boto3

    s3, bucket = s3_bucket
    sqs = boto3.client("sqs")
    url, arn = _queue(sqs)
    (_notify_queue if route == "s3-to-sqs" else _notify_topic)(s3, bucket, arn)
    trails, flows = _subset(demo)
    paths = trails[:4] + flows[:4]
    uris = _upload(s3, bucket, demo, paths, "")
    _wait_for_messages(sqs, url, len(paths))  # moto delivers the notifications itself

    watcher = _watcher(store, [url], demo)
    [source] = watcher.sources
    assert isinstance(source, SqsDiscovery)
    watcher.run(threading.Event(), until_idle=True)
    assert sorted(reads) == sorted(uris)
    assert _manifest(store) == dict.fromkeys(uris, "DONE")
    assert essence(stored_findings(store)) == essence(_scanned(demo, paths))
    _assert_empty_after_visibility(sqs, url)


def test_a_redelivered_notification_of_a_done_object_is_acked_unread(
    s3_bucket: tuple[Any, str], demo: Path, store: Store, reads: list[str]
) -> None:
    """The loop commits a file and dies before deleting its message: the message comes back
    after the visibility timeout, and the restarted loop deletes it without reading again."""
    import boto3

    s3, bucket = s3_bucket
    sqs = boto3.client("sqs")
    url, arn = _queue(sqs)
    _notify_queue(s3, bucket, arn)
    _wait_for_messages(sqs, url, 1)
    sqs.purge_queue(QueueUrl=url)  # the s3:TestEvent sent on configuration: only the object's left
    trails, _ = _subset(demo)
    [uri] = _upload(s3, bucket, demo, trails[:1], "")
    _wait_for_messages(sqs, url, 1)

    dying = _watcher(store, [url], demo)
    acked: list[list[str]] = []
    dying.sources[0].ack = lambda handles: acked.append(list(handles))  # type: ignore[method-assign]
    result = dying.step()  # ... and dies before the delete
    assert result.files == 1 and reads == [uri] and [len(h) for h in acked if h] == [1]
    assert _depth(sqs, url) == (0, 1)  # in flight, not deleted

    time.sleep(VISIBILITY + 0.2)
    restarted = _watcher(store, [url], demo)
    again = restarted.step()
    assert (again.files, again.skipped) == (0, 1)
    assert reads == [uri]  # not read a second time
    _assert_empty_after_visibility(sqs, url)
    assert _manifest(store) == {uri: "DONE"}
