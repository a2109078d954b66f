"""The delivery loop against real receivers, on SQLite and PostgreSQL: a webhook that refuses
first (retried with growing, jittered backoff on an injected clock), one that answers 400
(dead-lettered at once), one that never recovers (dead after ``max_attempts``), a target that
crashes (the others still get theirs); and export destinations as batch targets: a directory
(one encrypted file per account and region, idempotent names) and an API destination on S3
with SSE-KMS (moto's server), whose status follows what the write did."""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from keibi.errors import PublishError
from keibi.findings.samples import sample_findings
from keibi.publish.delivery import BatchTarget, EventTarget, Outcome, Publisher, RetryPolicy
from keibi.publish.events import NEW, guardduty_event
from keibi.publish.export import LocalExport, batch_name, decrypt_file, generate_key_file
from keibi.publish.patterns import EventPattern
from keibi.publish.setup import ExportTarget, api_destinations
from keibi.publish.targets import WebhookTarget
from keibi.store import Store
from keibi.store.destinations import (
    UNABLE_TO_PUBLISH,
    create_destination,
    get_destination,
    set_destination_status,
)
from keibi.store.detectors import DetectorRecord, create_detector
from keibi.store.members import accept_invitation, create_members, invitations, invite_members
from keibi.store.outbox import add_events, dead_letter_rows, delivery_status, due
from tests.receivers import Webhook

ACCOUNT, MEMBER, STRANGER = "111122223333", "444455556666", "777788889999"
REGION, WEST = "us-east-1", "eu-west-1"
LOW, HIGH = "Recon:EC2/PortProbeUnprotectedPort", "UnauthorizedAccess:EC2/TorClient"  # 2.0 and 8.0
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
Event = dict[str, Any]


class Clock:
    """The publisher's clock, moved by hand: backoff is tested without sleeping."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _events(*types: str, account: str = ACCOUNT, region: str = REGION) -> list[Event]:
    return [guardduty_event(f, NEW) for f in sample_findings(account, region, list(types), now=T0)]


def _enqueue(store: Store, events: Sequence[Event], targets: Sequence[str], at: datetime = T0) -> None:
    add_events(
        store, [(NEW, e["detail"]["id"], e) for e in events], {e["id"]: list(targets) for e in events}, at
    )


def _counts(outcome: Outcome) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    return outcome.delivered, outcome.failed, outcome.dead


@pytest.fixture(scope="module")
def receiver() -> Iterator[Webhook]:
    """One real receiver for the module: stopping one waits half a second (serve_forever's poll)."""
    with Webhook() as hook:
        yield hook


@contextmanager
def _receiving(hook: Webhook, *, fail_first: int = 0, status: int = 503) -> Iterator[Webhook]:
    """The module's receiver, fresh: nothing received, refusing its next ``fail_first`` requests."""
    hook.fail_first, hook.status, hook.refused = fail_first, status, 0
    hook.received.clear()
    yield hook


def _webhook(hook: Webhook) -> WebhookTarget:
    return WebhookTarget(name="hook", url=hook.url, timeout=5.0)


# -- webhooks: retries, backoff, dead letters -----------------------------------------------------


def test_503_twice_then_delivered_on_the_third_attempt(store: Store, receiver: Webhook) -> None:
    (event,) = _events(HIGH)
    _enqueue(store, [event], ["hook"])
    clock = Clock(T0)
    with _receiving(receiver, fail_first=2, status=503) as hook:
        publisher = Publisher(
            store, [_webhook(hook)], policy=RetryPolicy(base_seconds=1), clock=clock, seed=1
        )
        assert _counts(publisher.run_once()) == ({}, {"hook": 1}, {})
        assert (hook.refused, hook.received) == (1, [])
        # Due again after base * 2**0 = 1 s, jittered 0.8-1.2: not before, and by then surely.
        assert due(store, "hook", T0 + timedelta(seconds=0.79), 10) == []
        assert [d.attempts for d in due(store, "hook", T0 + timedelta(seconds=1.2), 10)] == [1]
        assert publisher.run_once().total == 0  # the clock has not moved

        clock.advance(1.2)
        assert _counts(publisher.run_once()) == ({}, {"hook": 1}, {})
        assert hook.refused == 2
        # The second wait is twice as long: 2 s, jittered.
        assert due(store, "hook", clock.now + timedelta(seconds=1.59), 10) == []
        assert [d.attempts for d in due(store, "hook", clock.now + timedelta(seconds=2.4), 10)] == [2]
        (status,) = delivery_status(store)
        assert (status.pending, status.retrying) == (1, 1)
        assert status.last_error is not None and status.last_error.startswith("HTTP 503 from 127.0.0.1:")

        clock.advance(2.4)
        assert _counts(publisher.run_once()) == ({"hook": 1}, {}, {})
        assert hook.events() == [event]  # exactly one accepted request, the event unchanged
        ((headers, _),) = hook.received
        assert {k.lower(): v for k, v in headers.items()}["x-keibi-event-id"] == event["id"]
        clock.advance(3600)
        assert publisher.run_once().total == 0
        assert (len(hook.received), hook.refused) == (1, 2)
    (status,) = delivery_status(store)
    assert (status.delivered, status.pending, status.retrying, status.dead, status.last_error) == (
        1,
        0,
        0,
        0,
        None,
    )


def test_a_400_is_dead_lettered_at_once(store: Store, receiver: Webhook) -> None:
    (event,) = _events(HIGH)
    _enqueue(store, [event], ["hook"])
    clock = Clock(T0)
    with _receiving(receiver, fail_first=1, status=400) as hook:
        publisher = Publisher(store, [_webhook(hook)], policy=RetryPolicy(base_seconds=1), clock=clock)
        assert _counts(publisher.run_once()) == ({}, {}, {"hook": 1})
        clock.advance(86400)
        assert publisher.run_once().total == 0
        assert (hook.refused, hook.received) == (1, [])
    (row,) = dead_letter_rows(store)
    assert (row["event_id"], row["target"], row["finding_id"], row["attempts"]) == (
        event["id"],
        "hook",
        event["detail"]["id"],
        1,
    )
    assert row["last_error"].startswith("HTTP 400 from 127.0.0.1:")
    assert row["failed_at"] == T0


def test_always_503_is_dead_after_max_attempts(store: Store, receiver: Webhook) -> None:
    (event,) = _events(HIGH)
    _enqueue(store, [event], ["hook"])
    clock = Clock(T0)
    policy = RetryPolicy(max_attempts=3, base_seconds=1)
    with _receiving(receiver, fail_first=1000, status=503) as hook:
        publisher = Publisher(store, [_webhook(hook)], policy=policy, clock=clock, seed=2)
        rounds = []
        for _ in range(4):
            rounds.append(_counts(publisher.run_once()))
            clock.advance(10)
        assert rounds == [
            ({}, {"hook": 1}, {}),
            ({}, {"hook": 1}, {}),
            ({}, {}, {"hook": 1}),
            ({}, {}, {}),
        ]
        assert (hook.refused, hook.received) == (3, [])
    (row,) = dead_letter_rows(store)
    assert row["attempts"] == 3
    assert row["last_error"].startswith("HTTP 503 from 127.0.0.1:")
    assert due(store, "hook", clock.now + timedelta(days=1), 10) == []


class Broken:
    """A target with a bug: raises something that is not a ``PublishError``."""

    name = "broken"

    def wants(self, event: Mapping[str, Any]) -> bool:
        return True

    def deliver(self, event: Mapping[str, Any]) -> None:
        raise RuntimeError("boom")


class BrokenBatch(Broken):
    name = "broken-batch"

    def deliver_batch(self, events: Sequence[Mapping[str, Any]], at: datetime) -> None:
        raise ValueError("bad batch")


def test_a_target_that_crashes_does_not_stop_the_others(store: Store, receiver: Webhook) -> None:
    events = _events(LOW, HIGH)
    _enqueue(store, events, ["broken", "broken-batch", "hook"])
    with _receiving(receiver) as hook:
        targets: list[EventTarget | BatchTarget] = [Broken(), BrokenBatch(), _webhook(hook)]
        publisher = Publisher(store, targets, policy=RetryPolicy(base_seconds=1), clock=Clock(T0))
        assert _counts(publisher.run_once()) == (
            {"hook": 2},
            {"broken": 2, "broken-batch": 2},
            {},
        )
        assert sorted(e["id"] for e in hook.events()) == sorted(e["id"] for e in events)
    status = {s.target: s for s in delivery_status(store)}
    assert (status["broken"].retrying, status["broken"].last_error) == (2, "RuntimeError: boom")
    assert (status["broken-batch"].retrying, status["broken-batch"].last_error) == (
        2,
        "ValueError: bad batch",
    )
    assert (status["hook"].delivered, status["hook"].pending) == (2, 0)


def test_a_slow_target_holds_up_only_itself(store: Store, receiver: Webhook) -> None:
    """Targets are delivered side by side: three events to a receiver answering in 1 s each do
    not delay the same three to a prompt one."""
    events = _events(HIGH, LOW, "Recon:EC2/Portscan", account=MEMBER)
    _enqueue(store, events, ["slow", "hook"])
    with Webhook(delay=1.0) as slow, _receiving(receiver) as prompt:
        publisher = Publisher(
            store, [WebhookTarget(name="slow", url=slow.url, timeout=5.0), _webhook(prompt)], clock=Clock(T0)
        )
        started = time.monotonic()
        worker = threading.Thread(target=publisher.run_once)
        worker.start()
        assert len(prompt.wait_for(3, timeout=2.5)) == 3
        prompt_done = time.monotonic() - started
        worker.join(timeout=10)
        assert not worker.is_alive() and len(slow.received) == 3
        assert prompt_done < 2.5 <= time.monotonic() - started  # the slow one took its 3 s


def test_a_round_takes_at_most_batch_events_per_target(store: Store, receiver: Webhook) -> None:
    events = _events(LOW, HIGH, "Backdoor:EC2/C&CActivity.B")
    _enqueue(store, events, ["hook"])
    with _receiving(receiver) as hook:
        publisher = Publisher(store, [_webhook(hook)], batch=2, clock=Clock(T0))
        assert _counts(publisher.run_once()) == ({"hook": 2}, {}, {})
        assert _counts(publisher.run_once()) == ({"hook": 1}, {}, {})
        assert publisher.run_once().total == 0
        assert sorted(hook.event_ids()) == sorted(e["id"] for e in events)


# -- the backoff itself ----------------------------------------------------------------------------


class Edge(random.Random):
    """Jitter pinned to one end of its range."""

    def __init__(self, high: bool) -> None:
        super().__init__(0)
        self.high = high

    def uniform(self, a: float, b: float) -> float:
        return b if self.high else a


def _wait(policy: RetryPolicy, attempts: int, rng: random.Random) -> float | None:
    at = policy.next_attempt(attempts, T0, rng)
    return None if at is None else (at - T0).total_seconds()


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=30, base_seconds=2, max_seconds=60)
    low = [_wait(policy, n, Edge(high=False)) for n in range(1, 8)]
    high = [_wait(policy, n, Edge(high=True)) for n in range(1, 8)]
    nominal = [2, 4, 8, 16, 32, 60, 60]  # base * 2**(attempts - 1), capped at max_seconds
    assert low == pytest.approx([0.8 * s for s in nominal])
    assert high == pytest.approx([min(60.0, 1.2 * s) for s in nominal])
    # The jitter spreads the capped waits too (so failed deliveries do not return together),
    # below the cap: max_seconds is a hard ceiling.
    assert _wait(policy, 29, Edge(high=False)) == pytest.approx(48.0)
    assert _wait(policy, 29, Edge(high=True)) == pytest.approx(60.0)
    rng = random.Random(5)
    for attempts in range(1, 12):
        wait = _wait(policy, attempts, rng)
        nominal_wait = min(60.0, 2.0 * 2 ** (attempts - 1))
        assert wait is not None and 0.8 * nominal_wait <= wait <= min(60.0, 1.2 * nominal_wait)


def test_backoff_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert _wait(policy, 2, random.Random(0)) is not None
    assert _wait(policy, 3, random.Random(0)) is None
    assert _wait(policy, 4, random.Random(0)) is None
    assert _wait(RetryPolicy(max_attempts=1), 1, random.Random(0)) is None
    # Seeded, the jitter is reproducible.
    assert _wait(policy, 1, random.Random(9)) == _wait(policy, 1, random.Random(9))


# -- an export directory as a batch target --------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> tuple[LocalExport, Path]:
    key = tmp_path / "export.key"
    generate_key_file(key)
    return LocalExport(tmp_path / "export", key), key


def _mixed() -> list[Event]:
    """Three groups: (ACCOUNT, REGION) with two findings, (ACCOUNT, WEST) and (MEMBER, REGION)."""
    return [*_events(LOW, HIGH), *_events(HIGH, region=WEST), *_events(LOW, account=MEMBER)]


def _files(export: LocalExport) -> dict[str, list[str]]:
    """Export file (relative path) → the ids of the findings in it."""
    key = export.key_file
    return {
        str(path.relative_to(export.directory)): [
            orjson.loads(line)["id"] for line in decrypt_file(path, key).splitlines()
        ]
        for path in sorted(export.directory.rglob("*.jsonl.gz.enc"))
    }


def _expected_files(events: Sequence[Event]) -> dict[str, list[str]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in events:
        groups.setdefault((e["account"], e["region"]), []).append(e["detail"])
    out = {}
    for (account, region), findings in groups.items():
        findings.sort(key=lambda f: f["id"])
        name = batch_name(findings)
        out[f"AWSLogs/{account}/GuardDuty/{region}/2024/05/01/{name}.jsonl.gz.enc"] = [
            f["id"] for f in findings
        ]
    return out


def test_an_export_writes_one_file_per_account_and_region(local: tuple[LocalExport, Path]) -> None:
    export, _ = local
    events = _mixed()
    target = ExportTarget("export:local", export)
    target.deliver_batch(events, T0)
    written = _files(export)
    assert written == _expected_files(events)
    assert len(written) == 3
    # The same events again, in another order and later that day: the same files, replaced.
    target.deliver_batch(list(reversed(events)), T0 + timedelta(hours=3))
    assert _files(export) == written
    # A different batch of one group is a new file beside the others.
    target.deliver_batch(events[:1], T0)
    assert len(_files(export)) == 4


def test_what_an_export_wants(local: tuple[LocalExport, Path]) -> None:
    export, _ = local
    (low, high), (west,), (member,) = (
        _events(LOW, HIGH),
        _events(HIGH, region=WEST),
        _events(LOW, account=MEMBER),
    )
    assert all(ExportTarget("all", export).wants(e) for e in (low, high, west, member))
    severe = ExportTarget("severe", export, min_severity=5.0)
    assert [severe.wants(e) for e in (low, high)] == [False, True]
    typed = ExportTarget("typed", export, pattern=EventPattern.parse({"detail": {"type": [LOW]}}))
    assert [typed.wants(e) for e in (low, high, member)] == [True, False, True]
    scoped = ExportTarget("scoped", export, scope=frozenset({(ACCOUNT, REGION)}))
    assert [scoped.wants(e) for e in (low, high, west, member)] == [True, True, False, False]
    both = ExportTarget(
        "both", export, min_severity=5.0, scope=frozenset({(ACCOUNT, REGION), (ACCOUNT, WEST)})
    )
    assert [both.wants(e) for e in (low, high, west, member)] == [False, True, True, False]


def test_the_publisher_delivers_an_export_as_one_batch(store: Store, local: tuple[LocalExport, Path]) -> None:
    export, _ = local
    events = _mixed()
    target = ExportTarget("export:local", export)
    _enqueue(store, events, [target.name])
    publisher = Publisher(store, [target], clock=Clock(T0))
    assert _counts(publisher.run_once()) == ({"export:local": 4}, {}, {})
    assert _files(export) == _expected_files(events)
    assert publisher.run_once().total == 0


def test_an_export_that_cannot_write_dead_letters_its_batch(store: Store, tmp_path: Path) -> None:
    key = tmp_path / "export.key"
    generate_key_file(key)
    (tmp_path / "a-file").write_text("not a directory")
    target = ExportTarget("export:broken", LocalExport(tmp_path / "a-file" / "export", key))
    events = _events(LOW, HIGH)
    with pytest.raises(PublishError) as raised:
        target.deliver_batch(events, T0)
    assert raised.value.retryable is False
    _enqueue(store, events, [target.name])
    assert _counts(Publisher(store, [target], clock=Clock(T0)).run_once()) == ({}, {}, {"export:broken": 2})
    assert {r["event_id"] for r in dead_letter_rows(store)} == {e["id"] for e in events}


# -- API publishing destinations on S3 with SSE-KMS -----------------------------------------------


def _detector(store: Store, account: str) -> DetectorRecord:
    made = create_detector(store, account, REGION, enabled=True, frequency="SIX_HOURS", features=[], now=T0)
    assert made is not None
    return made


def _destination(store: Store, detector: DetectorRecord, destination_arn: str, kms_key_arn: str) -> str:
    destination_id = "d" + detector.detector_id[1:]
    create_destination(
        store,
        detector.detector_id,
        destination_id=destination_id,
        destination_arn=destination_arn,
        kms_key_arn=kms_key_arn,
        now=T0,
        arn=f"arn:aws:guardduty:{REGION}:{detector.account_id}:detector/{detector.detector_id}/publishingDestination/{destination_id}",
    )
    return destination_id


def _kms_key() -> str:
    return str(boto3.client("kms", region_name=REGION).create_key()["KeyMetadata"]["Arn"])


def _status(store: Store, detector: DetectorRecord, destination_id: str) -> tuple[str, datetime | None]:
    found = get_destination(store, detector.detector_id, destination_id)
    assert found is not None
    return found.status, found.failure_started_at


def test_an_api_destination_exports_to_s3_with_its_kms_key(store: Store, s3_bucket: tuple[Any, str]) -> None:
    client, bucket = s3_bucket
    key_arn = _kms_key()
    admin, member = _detector(store, ACCOUNT), _detector(store, MEMBER)
    assert create_members(store, admin, [(MEMBER, "member@example.com")], T0) == []
    assert invite_members(store, admin, [MEMBER], T0) == []
    (invitation,) = invitations(store, MEMBER, REGION)
    assert invitation.invitation_id is not None
    accept_invitation(store, member, ACCOUNT, invitation.invitation_id, T0)
    destination_id = _destination(store, admin, f"arn:aws:s3:::{bucket}/gd", key_arn)

    (target,) = api_destinations(store)
    assert _status(store, admin, destination_id) == ("PUBLISHING", None)  # verified when picked up
    assert target.name == f"destination:{destination_id}"
    assert target.scope == frozenset({(ACCOUNT, REGION), (MEMBER, REGION)})
    mine, members, strangers = _events(HIGH), _events(LOW, account=MEMBER), _events(HIGH, account=STRANGER)
    assert [target.wants(e) for e in (*mine, *members, *strangers)] == [True, True, False]

    set_destination_status(store, destination_id, UNABLE_TO_PUBLISH, T0)  # say a write had failed
    at = T0 + timedelta(hours=1)
    target.deliver_batch([*mine, *members], at)
    listed = client.list_objects_v2(Bucket=bucket, Prefix="gd/AWSLogs/")["Contents"]
    keys = sorted(o["Key"] for o in listed)
    assert keys == sorted(
        f"gd/AWSLogs/{e['account']}/GuardDuty/{REGION}/2024/05/01/{batch_name([e['detail']])}.jsonl.gz"
        for e in (*mine, *members)
    )
    for key, event in zip(keys, sorted((*mine, *members), key=lambda e: e["account"]), strict=True):
        got = client.get_object(Bucket=bucket, Key=key)
        assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", key_arn)
        (line,) = gzip.decompress(got["Body"].read()).splitlines()
        assert orjson.loads(line)["id"] == event["detail"]["id"]
    found = get_destination(store, admin.detector_id, destination_id)
    assert found is not None
    assert (found.status, found.updated_at, found.failure_started_at) == ("PUBLISHING", at, None)


def test_an_api_destination_whose_bucket_is_missing_is_unable_to_publish(
    store: Store, s3_bucket: tuple[Any, str]
) -> None:
    admin = _detector(store, ACCOUNT)
    destination_id = _destination(store, admin, "arn:aws:s3:::keibi-no-such-bucket-here", _kms_key())
    (target,) = api_destinations(store)
    status, verified_at = _status(store, admin, destination_id)  # its verification failed
    assert status == UNABLE_TO_PUBLISH and verified_at is not None
    at = T0 + timedelta(hours=2)
    with pytest.raises(PublishError, match="the bucket does not exist") as raised:
        target.deliver_batch(_events(HIGH), at)
    assert raised.value.retryable is False
    assert _status(store, admin, destination_id) == (UNABLE_TO_PUBLISH, verified_at)  # since it started
    # A destination that was publishing becomes unable when a write fails, from that write on.
    set_destination_status(store, destination_id, "PUBLISHING", T0)
    with pytest.raises(PublishError):
        target.deliver_batch(_events(HIGH), at)
    assert _status(store, admin, destination_id) == (UNABLE_TO_PUBLISH, at)
    # Through the delivery loop, the refused batch is dead-lettered (not retryable).
    events = _events(LOW, HIGH)
    _enqueue(store, events, [target.name])
    outcome = Publisher(store, [target], clock=Clock(at + timedelta(hours=1))).run_once()
    assert _counts(outcome) == ({}, {}, {target.name: 2})
    assert _status(store, admin, destination_id) == (UNABLE_TO_PUBLISH, at)


def test_an_api_destination_with_a_malformed_key_is_skipped_and_marked(store: Store) -> None:
    admin = _detector(store, ACCOUNT)
    destination_id = _destination(store, admin, "arn:aws:s3:::findings-bucket", "not-a-kms-key-arn")
    assert api_destinations(store) == []
    found = get_destination(store, admin.detector_id, destination_id)
    assert found is not None and found.status == UNABLE_TO_PUBLISH
