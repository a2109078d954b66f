from __future__ import annotations

import json
import logging
import os
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from keibi.errors import ConfigError
from keibi.sources.discover import (
    DirectoryDiscovery,
    Discovered,
    Discovery,
    S3PrefixDiscovery,
    SqsDiscovery,
    _day_prefixes,
    handles_done,
    notified_files,
    open_discovery,
)
from keibi.sources.locations import LogFile

# --- directories ---------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _names(found: Sequence[Discovered], root: Path) -> list[str]:
    return [Path(d.file.uri).relative_to(root).as_posix() for d in found]


def test_directory_returns_each_file_once_it_has_settled(tmp_path: Path) -> None:
    clock = FakeClock()
    source = DirectoryDiscovery(tmp_path, settle_seconds=2.0, clock=clock)
    (tmp_path / "a.log").write_text("one\n")
    for ignored in (".hidden", "b.log.tmp", "c.part"):
        (tmp_path / ignored).write_text("x")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("x")
    assert source.poll() == []  # seen at t=0, not settled yet

    clock.now = 1.0
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.log").write_text("half")
    assert source.poll() == []

    clock.now = 2.0
    (found,) = source.poll()
    assert found == Discovered(LogFile(str(tmp_path / "a.log"), 4))

    clock.now = 2.5
    (tmp_path / "sub" / "b.log").write_text("half and the rest\n")  # still being written
    assert source.poll() == []
    clock.now = 4.0  # 2 s after first seen, but it changed at 2.5
    assert source.poll() == []
    clock.now = 4.5
    assert _names(source.poll(), tmp_path) == ["sub/b.log"]

    clock.now = 100.0
    assert source.poll() == []  # nothing twice
    assert source.poll() == []

    source.restore({})  # the loop could not save them: roll back
    assert source.poll() == []
    clock.now = 102.0
    assert _names(source.poll(), tmp_path) == ["a.log", "sub/b.log"]


def test_directory_returns_a_changed_or_renamed_file_again(tmp_path: Path) -> None:
    clock = FakeClock()
    source = DirectoryDiscovery(tmp_path, settle_seconds=1.0, clock=clock)
    a, b = tmp_path / "a.log", tmp_path / "b.log"
    a.write_text("one\n")
    b.write_text("two\n")
    os.utime(a, ns=(1_000_000_000, 1_000_000_000))
    source.poll()
    clock.now = 1.0
    assert _names(source.poll(), tmp_path) == ["a.log", "b.log"]

    with a.open("a") as out:
        out.write("more\n")
    os.utime(b, ns=(2_000_000_000, 2_000_000_000))  # same size, new mtime
    (tmp_path / "c.log.tmp").write_text("three\n")
    clock.now = 2.0
    assert source.poll() == []
    (tmp_path / "c.log.tmp").rename(tmp_path / "c.log")  # the usual atomic write
    clock.now = 3.0
    found = source.poll()
    assert _names(found, tmp_path) == ["a.log", "b.log"]
    assert [d.file.size for d in found] == [9, 4]
    clock.now = 4.0
    assert [(d.file.uri, d.file.size) for d in source.poll()] == [(str(tmp_path / "c.log"), 6)]

    b.unlink()
    clock.now = 5.0
    assert source.poll() == []
    b.write_text("two\n")  # a new file under an old name is new
    os.utime(b, ns=(2_000_000_000, 2_000_000_000))
    source.poll()
    clock.now = 6.0
    assert _names(source.poll(), tmp_path) == ["b.log"]
    assert source.markers() == {} and source.name == f"dir:{tmp_path}"


def test_directory_without_settling_and_a_missing_root(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "x.log").write_text("x")
    assert _names(DirectoryDiscovery(tmp_path, settle_seconds=0).poll(), tmp_path) == ["x.log"]
    gone = DirectoryDiscovery(tmp_path / "nope")
    with caplog.at_level(logging.WARNING):
        assert gone.poll() == [] and gone.poll() == []
    assert len([r for r in caplog.records if "cannot list" in r.getMessage()]) == 1


# --- S3 prefixes ----------------------------------------------------------------------------------

A1, A2, ORG_ACCOUNT, ORG = "111122223333", "444455556666", "777788889999", "o-abcdef1234"
REGIONS = ("us-east-1", "eu-west-1")
VPCS = ("vpc-0a1b2c3d", "vpc-0e1f2a3b")


def _ct(account: str, region: str, day: str, hhmm: str, org: str = "", service: str = "CloudTrail") -> str:
    return (
        f"AWSLogs/{org}{account}/{service}/{region}/2024/08/{day}/"
        f"{account}_{service}_{region}_202408{day}T{hhmm}Z_x.json.gz"
    )


def _flow(account: str, region: str, day: str, hhmm: str) -> str:
    return f"AWSLogs/{account}/vpcflowlogs/{region}/2024/08/{day}/{account}_vpcflowlogs_{region}_fl-01_202408{day}T{hhmm}Z_h.log.gz"


def _dns(account: str, vpc: str, day: str, hhmm: str) -> str:
    return f"AWSLogs/{account}/vpcdnsquerylogs/{vpc}/2024/08/{day}/{account}_vpcdnsquerylogs_{vpc}_202408{day}T{hhmm}Z_h.log.gz"


def _tree(hhmm: str, day: str = "02") -> list[str]:
    """One file per partition: 2 accounts x (CloudTrail, flow, DNS) x 2 regions/VPCs, plus an
    org trail, CloudTrail Insights and keys outside the AWSLogs layout."""
    keys = [
        _ct(ORG_ACCOUNT, "us-east-1", day, hhmm, org=f"{ORG}/"),
        _ct(A1, "us-east-1", day, hhmm, service="CloudTrail-Insight"),
    ]
    for account in (A1, A2):
        for region, vpc in zip(REGIONS, VPCS, strict=True):
            keys += [
                _ct(account, region, day, hhmm),
                _flow(account, region, day, hhmm),
                _dns(account, vpc, day, hhmm),
            ]
    keys += [f"elb-logs/2024/08/{day}/elb_{hhmm}.log", f"loose_{day}{hhmm}.txt"]
    return keys


PARTITIONS = sorted(
    [f"AWSLogs/{ORG}/{ORG_ACCOUNT}/CloudTrail/us-east-1/", f"AWSLogs/{A1}/CloudTrail-Insight/us-east-1/"]
    + [
        f"AWSLogs/{account}/{service}/{where}/"
        for account in (A1, A2)
        for service, places in (("CloudTrail", REGIONS), ("vpcflowlogs", REGIONS), ("vpcdnsquerylogs", VPCS))
        for where in places
    ]
    + ["elb-logs/", "files:"]
)
DIGEST = f"AWSLogs/{A1}/CloudTrail-Digest/us-east-1/2024/08/02/{A1}_CloudTrail-Digest_us-east-1_x_20240802T0900Z.json.gz"
FOLDER = f"AWSLogs/{A1}/CloudTrail/us-east-1/2024/08/02/"


def _put(client: Any, bucket: str, keys: Iterable[str]) -> None:
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"" if key.endswith("/") else key.encode())


def _keys(found: Sequence[Discovered], bucket: str) -> list[str]:
    prefix = f"s3://{bucket}/"
    assert all(d.file.uri.startswith(prefix) and d.ack is None for d in found)
    return [d.file.uri.removeprefix(prefix) for d in found]


def _files(bucket: str, keys: Iterable[str]) -> list[LogFile]:
    return [LogFile(f"s3://{bucket}/{k}", len(k)) for k in keys]


def _partition_of(key: str) -> str:
    return next((p for p in PARTITIONS if p != "files:" and key.startswith(p)), "files:")


def test_s3_first_poll_lists_every_partition_in_key_order(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    keys = _tree("0800") + _tree("0805")
    _put(client, bucket, [*keys, DIGEST, FOLDER])
    source: Discovery = S3PrefixDiscovery(bucket, "", client=client)
    found = source.poll()
    assert _keys(found, bucket) == sorted(keys)  # no digest, no folder marker
    assert all(
        d.file.size == len(k) and d.file.etag and '"' not in d.file.etag
        for d, k in zip(found, sorted(keys), strict=True)
    )
    assert isinstance(source, S3PrefixDiscovery) and source.partitions == PARTITIONS
    assert source.name == f"s3://{bucket}/"

    assert source.poll() == found  # nothing committed: everything again
    # the folder marker is "done" at once, so it never holds its partition back
    assert source.markers() == {f"AWSLogs/{A1}/CloudTrail/us-east-1/": FOLDER}


def test_s3_markers_follow_commits_and_survive_a_restart(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    first, second = _tree("0800"), _tree("0805")
    _put(client, bucket, first + second)
    source = S3PrefixDiscovery(bucket, "", client=client)
    source.poll()
    committed = first + second[:5]  # every partition up to 0800, a few up to 0805
    source.commit(_files(bucket, committed))
    source.commit([LogFile("s3://other-bucket/x", 1), LogFile("/local/file", 1)])  # not ours: ignored
    markers = source.markers()
    assert markers == {_partition_of(k): k for k in sorted(committed)}

    third = _tree("0810")
    _put(client, bucket, third)
    uncommitted = sorted(second[5:] + third)
    assert _keys(source.poll(), bucket) == uncommitted

    restarted = S3PrefixDiscovery(bucket, "", client=client)
    restarted.restore(markers)
    assert _keys(restarted.poll(), bucket) == uncommitted
    assert restarted.markers() == markers

    restarted.commit(_files(bucket, uncommitted))
    assert restarted.poll() == []
    assert set(restarted.markers().values()) == set(third)


def test_s3_marker_never_passes_an_uncommitted_key(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    prefix = f"AWSLogs/{A1}/CloudTrail/us-east-1/"
    keys = [_ct(A1, "us-east-1", "02", f"08{m:02d}") for m in range(0, 30, 5)]
    _put(client, bucket, keys)
    source = S3PrefixDiscovery(bucket, prefix, client=client, max_keys=2)
    assert source.partitions == [] and _keys(source.poll(), bucket) == keys[:2]
    assert source.partitions == [prefix]  # the prefix is itself a partition

    source.commit(_files(bucket, keys[1:2]))  # keys[0] is stuck
    assert _keys(source.poll(), bucket) == [keys[0], keys[2]]  # the stuck key does not stall the rest
    assert source.markers() == {}
    source.commit(_files(bucket, keys[2:4]))
    assert _keys(source.poll(), bucket) == [keys[0], keys[4]]

    restarted = S3PrefixDiscovery(bucket, prefix, client=client)
    restarted.restore(source.markers())
    assert (
        _keys(restarted.poll(), bucket) == keys
    )  # committed after the gap: back once, the manifest drops them

    source.commit(_files(bucket, keys[:1]))
    assert source.markers() == {prefix: keys[3]}  # jumps over every committed key
    assert _keys(source.poll(), bucket) == keys[4:]


def test_s3_restore_rolls_back_a_batch_that_was_not_saved(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    first, second = _tree("0800"), _tree("0805")
    _put(client, bucket, first + second)
    source = S3PrefixDiscovery(bucket, "", client=client)
    source.commit([d.file for d in source.poll() if d.file.uri.endswith(tuple(first))])
    saved = source.markers()
    source.commit(_files(bucket, second))
    assert source.poll() == []
    source.restore(saved)  # saving the second batch failed
    assert _keys(source.poll(), bucket) == sorted(second)
    source.restore({})
    assert _keys(source.poll(), bucket) == sorted(first + second)


def test_s3_saved_marker_outside_its_partition_is_ignored(
    s3_bucket: tuple[Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    client, bucket = s3_bucket
    keys = _tree("0800")
    _put(client, bucket, keys)
    source = S3PrefixDiscovery(bucket, "", client=client)
    ct = f"AWSLogs/{A1}/CloudTrail/us-east-1/"
    source.restore({ct: "elb-logs/zzz", "files:": "elb-logs/zzz", "AWSLogs/gone/": "AWSLogs/gone/x"})
    with caplog.at_level(logging.WARNING):
        assert _keys(source.poll(), bucket) == sorted(keys)
    assert sum("ignoring saved marker" in r.getMessage() for r in caplog.records) == 2
    assert source.markers() == {"AWSLogs/gone/": "AWSLogs/gone/x"}  # kept for when it comes back


def test_s3_prefix_forms(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    inner = [f"team/{k}" for k in _tree("0800")]
    _put(client, bucket, [*inner, "teammate/x.log", "outside/y.log"])
    source = S3PrefixDiscovery(bucket, "team", client=client)  # means team/, and S3 also matches teammate/
    assert _keys(source.poll(), bucket) == sorted([*inner, "teammate/x.log"])
    assert source.partitions == sorted(
        [("files:team/" if p == "files:" else f"team/{p}") for p in PARTITIONS] + ["teammate/"]
    )
    source.commit(_files(bucket, [*inner, "teammate/x.log"]))
    assert source.poll() == []
    assert len(source.markers()) == len(PARTITIONS) + 1

    day = f"team/AWSLogs/{A1}/CloudTrail/us-east-1/2024/08"  # inside a partition, no trailing slash
    _put(client, bucket, [f"team/{DIGEST}"])
    digests = S3PrefixDiscovery(bucket, f"team/AWSLogs/{A1}/CloudTrail-Digest/", client=client)
    assert digests.poll() == [] and digests.partitions == []

    one = S3PrefixDiscovery(bucket, day, client=client)
    (found,) = one.poll()
    one.commit([found.file])
    assert one.markers() == {day: found.file.uri.removeprefix(f"s3://{bucket}/")}


def test_s3_lookback_finds_late_files(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    keys = _tree("0800") + _tree("0900")
    _put(client, bucket, keys)
    source = S3PrefixDiscovery(bucket, "", client=client, lookback=2, lookback_every=3)
    source.poll()
    source.commit(_files(bucket, keys))

    late = _ct(A1, "us-east-1", "02", "0830")  # before its partition's marker (0900)
    late_day_before = _flow(A2, "eu-west-1", "01", "2355")
    too_old = (
        f"AWSLogs/{A1}/CloudTrail/us-east-1/2024/07/31/{A1}_CloudTrail_us-east-1_20240731T2355Z_x.json.gz"
    )
    _put(client, bucket, [late, late_day_before, too_old, DIGEST])
    assert source.poll() == []  # poll 2: StartAfter cannot see them
    assert _keys(source.poll(), bucket) == sorted([late_day_before, late])  # poll 3 looks back 2 days
    source.commit(_files(bucket, [late]))
    assert source.poll() == [] and source.poll() == []
    assert _keys(source.poll(), bucket) == [late_day_before]  # poll 6: uncommitted, so again
    source.commit(_files(bucket, [late_day_before]))
    assert [source.poll() for _ in range(3)] == [[], [], []]  # poll 9: nothing left in the window
    assert source.markers()[f"AWSLogs/{A1}/CloudTrail/us-east-1/"] == _ct(A1, "us-east-1", "02", "0900")


def test_day_prefixes_follow_the_markers_layout() -> None:
    marker = "p/AWSLogs/1/vpcflowlogs/r/2024/03/01/12/x.log.gz"  # hourly flow logs
    assert _day_prefixes("p/AWSLogs/1/vpcflowlogs/r/", marker, 2) == [
        "p/AWSLogs/1/vpcflowlogs/r/2024/03/01/",
        "p/AWSLogs/1/vpcflowlogs/r/2024/02/29/",
    ]
    hive = "AWSLogs/aws-account-id=1/aws-service=vpcflowlogs/aws-region=r/year=2024/month=01/day=01/x"
    assert _day_prefixes("AWSLogs/", hive, 2)[1].endswith("aws-region=r/year=2023/month=12/day=31/")
    assert _day_prefixes("elb/", "elb/no-dates/x.log", 2) == []
    assert _day_prefixes("elb/", "elb/2024/13/45/x.log", 2) == []


def test_s3_steady_state_poll_costs_one_call_per_partition(s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    _put(client, bucket, [*_tree("0800"), DIGEST])
    calls: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-parameter-build.s3.ListObjectsV2", lambda params, **_: calls.append(dict(params))
    )

    quiet = S3PrefixDiscovery(bucket, "", client=client, rediscover_every=1000)
    quiet.commit([d.file for d in quiet.poll()])
    calls.clear()
    assert quiet.poll() == []
    assert len(calls) == len(PARTITIONS) == 16 and all("StartAfter" in c for c in calls)

    fresh = S3PrefixDiscovery(bucket, "", client=client)  # re-discovers every poll
    fresh.commit([d.file for d in fresh.poll()])
    calls.clear()
    assert fresh.poll() == []
    walked = [c["Prefix"] for c in calls if "StartAfter" not in c]
    # root, AWSLogs/, the org, 3 accounts, 8 service folders (the digest folder is not entered)
    assert len(walked) == 14 and f"AWSLogs/{A1}/CloudTrail-Digest/" not in walked
    assert len(calls) == 16 + 14

    looking = S3PrefixDiscovery(
        bucket, "", client=client, rediscover_every=1000, lookback=2, lookback_every=2
    )
    looking.commit([d.file for d in looking.poll()])
    calls.clear()
    assert looking.poll() == []
    assert len(calls) == 16 + 2 * 15  # every dated partition lists its last 2 day folders


# --- SQS -------------------------------------------------------------------------------------------


@pytest.fixture
def sqs(s3_bucket: tuple[Any, str]) -> Any:
    """An SQS client on the same moto server; the s3_bucket fixture set the environment."""
    import boto3

    return boto3.client("sqs")


def _queue(sqs: Any) -> tuple[str, str]:
    url: str = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(got[names[0]]), int(got[names[1]])


def _peek(sqs: Any, url: str) -> list[Any]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get(
        "Messages", []
    )
    return [json.loads(m["Body"]) for m in messages]


SPACED = f"AWSLogs/{A1}/CloudTrail/us-east-1/2024/08/02/a b+c%.json.gz"


def test_sqs_direct_s3_notifications(s3_bucket: tuple[Any, str], sqs: Any) -> None:
    client, bucket = s3_bucket
    url, arn = _queue(sqs)
    config = {
        "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]
    }
    client.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    source = SqsDiscovery(url, wait_seconds=0)
    assert [b.get("Event") for b in _peek(sqs, url)] == ["s3:TestEvent"]
    assert source.poll() == [] and _depth(sqs, url) == (0, 0)  # the test event is acked

    client.put_object(Bucket=bucket, Key=SPACED, Body=b"12345")
    client.put_object(Bucket=bucket, Key=DIGEST, Body=b"{}")
    client.delete_object(Bucket=bucket, Key=DIGEST)
    (body, _, _) = _peek(sqs, url)
    assert body["Records"][0]["s3"]["object"]["key"].endswith("a+b%2Bc%25.json.gz")  # S3 encodes keys
    etag = client.head_object(Bucket=bucket, Key=SPACED)["ETag"].strip('"')

    (found,) = source.poll()
    assert found.file == LogFile(f"s3://{bucket}/{SPACED}", 5, etag)
    assert found.ack and _depth(sqs, url) == (0, 1)  # the digest and the deletion are acked already
    source.ack(handles_done([found], {found.file.uri}))
    assert _depth(sqs, url) == (0, 0)
    assert source.name == f"sqs:{url}" and source.markers() == {}


def test_sqs_through_sns_raw_and_enveloped(s3_bucket: tuple[Any, str], sqs: Any) -> None:
    import boto3

    client, bucket = s3_bucket
    sns = boto3.client("sns")
    topic = sns.create_topic(Name=f"t-{uuid.uuid4().hex[:12]}")["TopicArn"]
    (raw_url, raw_arn), (env_url, env_arn) = _queue(sqs), _queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=env_arn)
    config = {"TopicConfigurations": [{"TopicArn": topic, "Events": ["s3:ObjectCreated:*"]}]}
    client.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    client.put_object(Bucket=bucket, Key=SPACED, Body=b"12345")

    raw, enveloped = _peek(sqs, raw_url), _peek(sqs, env_url)
    assert [b.get("Event", "Records" in b) for b in raw] == ["s3:TestEvent", True]
    assert [b["Type"] for b in enveloped] == ["Notification", "Notification"]
    for url in (raw_url, env_url):
        source = SqsDiscovery(url, wait_seconds=0)
        found = source.poll()
        assert [(d.file.uri, d.file.size) for d in found] == [(f"s3://{bucket}/{SPACED}", 5)]
        source.ack(handles_done(found, {found[0].file.uri}))
        assert _depth(sqs, url) == (0, 0)


def test_sqs_eventbridge_events(s3_bucket: tuple[Any, str], sqs: Any) -> None:
    import boto3

    client, bucket = s3_bucket
    url, arn = _queue(sqs)
    events = boto3.client("events")
    rule = f"r-{uuid.uuid4().hex[:12]}"
    events.put_rule(
        Name=rule, EventPattern=json.dumps({"source": ["aws.s3"], "detail": {"bucket": {"name": [bucket]}}})
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
    client.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    try:
        client.put_object(Bucket=bucket, Key=SPACED, Body=b"12345")
        client.delete_object(Bucket=bucket, Key=SPACED)
        kinds = [b["detail-type"] for b in _peek(sqs, url)]
        assert kinds[0] == "Object Created" and "Object Deleted" in kinds  # moto adds "Object Tags Added"
        source = SqsDiscovery(url, wait_seconds=0)
        found = source.poll()
        assert [d.file.uri for d in found] == [f"s3://{bucket}/{SPACED}"]  # EventBridge keys are not encoded
        source.ack(handles_done(found, {found[0].file.uri}))
        assert _depth(sqs, url) == (0, 0)
    finally:
        events.remove_targets(Rule=rule, Ids=["queue"])
        events.delete_rule(Name=rule)


def _record(key: str, size: int, event: str = "ObjectCreated:Put") -> dict[str, Any]:
    return {
        "eventSource": "aws:s3",
        "eventName": event,
        "s3": {"bucket": {"name": "b"}, "object": {"key": key, "size": size, "eTag": "e"}},
    }


def test_sqs_multi_record_messages_and_bodies_not_understood(
    s3_bucket: tuple[Any, str], sqs: Any, caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = _queue(sqs)
    bodies = [
        {"Records": [_record("logs/one", 1), _record("logs/two%3A2", 2)]},
        {"Records": [_record("logs/old", 1, "ObjectRemoved:Delete")]},
        {"Type": "Notification", "Message": json.dumps({"Records": [_record("logs/three", 3)]})},
    ]
    for body in bodies:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
    strange = [
        "not json",
        json.dumps({"hello": 1}),
        json.dumps({"Records": [{"eventName": "ObjectCreated:Put"}]}),
    ]
    strange_ids = [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in strange]

    source = SqsDiscovery(url, wait_seconds=0, max_messages=2, visibility_timeout=60)
    with caplog.at_level(logging.WARNING):
        found = source.poll()  # 3 receives of 2
    assert [d.file.uri for d in found] == ["s3://b/logs/one", "s3://b/logs/two:2", "s3://b/logs/three"]
    assert found[0].ack == found[1].ack != found[2].ack
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert all(i in warned for i in strange_ids) and "redrive" in warned
    assert _depth(sqs, url) == (0, 5)  # the deletion notice is acked; the strange ones stay

    assert handles_done(found, {"s3://b/logs/one", "s3://b/logs/three"}) == [found[2].ack]
    source.ack(handles_done(found, {"s3://b/logs/one", "s3://b/logs/three"}))
    assert _depth(sqs, url) == (0, 4)
    source.ack(handles_done(found, {d.file.uri for d in found}) * 2)  # repeats are harmless
    assert _depth(sqs, url) == (0, 3)


S3_BODY = {"Records": [_record("a+b%2Fc", 7)]}
EVENTBRIDGE_BODY = {
    "source": "aws.s3",
    "detail-type": "Object Created",
    "detail": {"bucket": {"name": "b"}, "object": {"key": "a+b", "size": 7, "etag": "e"}},
}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (S3_BODY, [LogFile("s3://b/a b/c", 7, "e")]),
        ({"Type": "Notification", "Message": json.dumps(S3_BODY)}, [LogFile("s3://b/a b/c", 7, "e")]),
        (EVENTBRIDGE_BODY, [LogFile("s3://b/a+b", 7, "e")]),
        ({"Type": "Notification", "Message": json.dumps(EVENTBRIDGE_BODY)}, [LogFile("s3://b/a+b", 7, "e")]),
        ({**EVENTBRIDGE_BODY, "detail-type": "Object Deleted"}, []),
        ({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}, []),
        ({"Type": "Notification", "Message": json.dumps({"Event": "s3:TestEvent"})}, []),
        ({"Records": [_record("x/CloudTrail-Digest/y.json.gz", 1), _record("x/", 0)]}, []),
        ({"Records": [_record("k", 1, "ObjectRestore:Completed")]}, []),
        ({"Type": "Notification", "Message": "plain text"}, None),
        ({"Type": "Notification", "Message": json.dumps({"Type": "Notification", "Message": "{}"})}, None),
        (
            {
                "Records": [
                    {
                        "s3": {"bucket": {"name": "b"}, "object": {"key": "k", "size": "7"}},
                        "eventName": "ObjectCreated:Put",
                    }
                ]
            },
            None,
        ),
        ({"Records": ["x"]}, None),
        ([1, 2], None),
    ],
)
def test_notified_files(body: Any, expected: list[LogFile] | None) -> None:
    assert notified_files(json.dumps(body)) == expected


def test_handles_done() -> None:
    f = [LogFile(f"s3://b/{n}", 1) for n in "abc"]
    found = [Discovered(f[0], "h1"), Discovered(f[1], "h1"), Discovered(f[2], "h2"), Discovered(f[2])]
    assert handles_done(found, set()) == []
    assert handles_done(found, {f[1].uri}) == []  # h1 waits for its first file too
    assert handles_done(found, {f[0].uri, f[2].uri}) == ["h2"]
    assert handles_done(found, {x.uri for x in f}) == ["h1", "h2"]


# --- open_discovery ----------------------------------------------------------------------------------


def test_open_discovery_picks_the_source(tmp_path: Path, s3_bucket: tuple[Any, str], sqs: Any) -> None:
    s3 = open_discovery("s3://bucket/AWSLogs/", max_keys=5)
    assert isinstance(s3, S3PrefixDiscovery) and (s3.bucket, s3.prefix, s3.max_keys) == (
        "bucket",
        "AWSLogs/",
        5,
    )
    local = open_discovery(str(tmp_path), settle_seconds=0)
    assert isinstance(local, DirectoryDiscovery) and local.path == tmp_path
    for uri in (
        "https://sqs.eu-west-1.amazonaws.com/111122223333/trail",
        "sqs://sqs.eu-west-1.amazonaws.com/111122223333/trail",
    ):
        queue = open_discovery(uri)
        assert (
            isinstance(queue, SqsDiscovery)
            and queue.queue_url == "https://sqs.eu-west-1.amazonaws.com/111122223333/trail"
        )
        assert queue.client.meta.region_name == "eu-west-1"

    url, arn = _queue(sqs)
    name = url.rsplit("/", 1)[1]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Records": [_record("k", 1)]}))
    by_arn = open_discovery(arn, wait_seconds=0)
    assert isinstance(by_arn, SqsDiscovery) and by_arn.name == f"sqs:{arn}"
    assert [d.file.uri for d in by_arn.poll()] == ["s3://b/k"]  # resolved with GetQueueUrl
    by_name = open_discovery(f"sqs://{name}", wait_seconds=0)
    assert isinstance(by_name, SqsDiscovery) and by_name.queue_url == url


@pytest.mark.parametrize(
    ("uri", "options", "message"),
    [
        ("", {}, "empty source URI"),
        ("s3://", {}, "no bucket"),
        ("s3:///key", {}, "no bucket"),
        ("gs://bucket/x", {}, "unsupported source"),
        ("https://example.com/path", {}, "not an SQS queue URL"),
        ("arn:aws:s3:::bucket", {}, "not an SQS queue ARN"),
        ("sqs://bad name!", {}, "expected sqs://"),
        ("{tmp}/missing", {}, "no such directory"),
        ("{tmp}/file.log", {}, "not a directory"),
        ("{tmp}", {"settle": 1}, "unknown option 'settle'"),
        ("{tmp}", {"settle_seconds": -1}, "settle_seconds must be >= 0"),
        ("{tmp}", {"settle_seconds": "2"}, "settle_seconds must be a number"),
        ("s3://b/", {"lookback_every": 0}, "lookback_every must be >= 1"),
        ("s3://b/", {"bucket": "x"}, "unknown option 'bucket'"),
        ("sqs://q", {"max_messages": 11}, "max_messages must be between 1 and 10"),
        ("sqs://q", {"wait_seconds": True}, "wait_seconds must be a number"),
    ],
)
def test_open_discovery_rejects_bad_uris_and_options(
    tmp_path: Path, uri: str, options: dict[str, Any], message: str
) -> None:
    (tmp_path / "file.log").write_text("x")
    with pytest.raises(ConfigError, match=message) as caught:
        open_discovery(uri.replace("{tmp}", str(tmp_path)), **options)
    assert "\n" not in str(caught.value)
