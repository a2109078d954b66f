"""``keibi watch``, ``keibi status`` and ``keibi publish dead-letters`` as users run them.

``keibi watch`` runs as a real process (``python -m keibi.cli``): it installs signal handlers
and JSON logging, which must not leak into the test process. The commands that only read or
fail on configuration run in process through typer's runner.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from keibi.cli import app
from keibi.tester import generate
from tests.receivers import Webhook

KEIBI = [sys.executable, "-m", "keibi.cli"]
ALWAYS = 10**9  # a receiver refusing this many requests never accepts one


@pytest.fixture(scope="module")
def trails(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """One account's us-east-1 CloudTrail files from the generator: attacks among background."""
    out = tmp_path_factory.mktemp("cli-watch-demo")
    generate(out, seed=11, scale=0.2)
    found = sorted(out.glob("AWSLogs/*/CloudTrail/us-east-1/**/*.json.gz"))
    assert len(found) >= 10
    return found


@pytest.fixture
def logs(tmp_path: Path, trails: list[Path]) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    for path in trails:
        shutil.copy(path, folder / path.name)
    return folder


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in ("KEIBI_DATA_DIR", "KEIBI_DATABASE_URL", "KEIBI_CONFIG", "KEIBI_WATCH_SOURCES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _toml(value: str) -> str:
    return json.dumps(value)  # a TOML basic string is written as JSON writes one


def _config(
    tmp_path: Path, *, sources: list[str] | None = None, hook: str | None = None, extra: str = ""
) -> Path:
    lines = ["[keibi]", f"data_dir = {_toml(str(tmp_path / 'data'))}"]
    if sources is not None:
        lines += ["[watch]", f"sources = [{', '.join(_toml(s) for s in sources)}]", "settle_seconds = 0"]
        lines += ["poll_seconds = 0.1"]
    if hook is not None:
        lines += ["[[publish.targets]]", 'name = "hook"', 'type = "webhook"', f"url = {_toml(hook)}"]
    path = tmp_path / "keibi.toml"
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def _watch(config: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEIBI_")}
    return subprocess.run(
        [*KEIBI, "watch", "--until-idle", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def _records(paths: list[Path]) -> list[dict[str, Any]]:
    return [r for p in paths for r in orjson.loads(gzip.decompress(p.read_bytes()))["Records"]]


def _json(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _finding_ids(runner: CliRunner, config: Path) -> set[str]:
    return {f["id"] for f in _json(runner, "findings", "list", "--format", "json", "--config", str(config))}


@pytest.mark.parametrize("args", [["watch"], ["status"], ["publish"], ["publish", "dead-letters"]])
def test_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_watch_until_idle_then_status_shows_files_events_lag_and_deliveries(
    runner: CliRunner, tmp_path: Path, logs: Path
) -> None:
    with Webhook() as hook:
        config = _config(tmp_path, sources=[str(logs)], hook=hook.url)
        done = _watch(config)
        assert done.returncode == 0, done.stderr
        received = hook.events()
    files = sorted(logs.iterdir())
    records = _records(files)
    findings = _finding_ids(runner, config)
    assert len(findings) > 5
    assert sorted(e["detail"]["id"] for e in received) == sorted(findings)  # each new finding once

    at = datetime.now(UTC)
    status = _json(runner, "status", "--format", "json", "--config", str(config))
    [source] = status["sources"]
    assert source["source"] == f"dir:{logs}"
    assert (source["files"], source["events"]) == (len(files), len(records))
    assert (source["errors"], source["lateFiles"], source["failedFiles"]) == (0, 0, 0)
    newest = max(datetime.fromisoformat(r["eventTime"].replace("Z", "+00:00")) for r in records)
    assert source["newestEventAt"] == newest.isoformat().replace("+00:00", "Z")
    assert abs(source["lagSeconds"] - (at - newest).total_seconds()) < 60
    [target] = status["targets"]
    assert target["target"] == "hook"
    assert target["delivered"] == len(received) and target["pending"] == target["deadLetters"] == 0

    table = runner.invoke(app, ["status", "--config", str(config)])
    assert table.exit_code == 0, table.output
    [row] = [line for line in table.stdout.splitlines() if f"dir:{logs}" in line]
    assert f"{len(records):,}" in row.split() and str(len(files)) in row.split()
    [delivered] = [line for line in table.stdout.splitlines() if "hook" in line]
    assert str(len(received)) in delivered.split()

    again = _watch(config)  # everything is in the manifest: nothing read, nothing sent twice
    assert again.returncode == 0, again.stderr
    assert _json(runner, "status", "--format", "json", "--config", str(config))["sources"][0]["files"] == len(
        files
    )


def test_watch_follows_an_sqs_queue_named_in_keibi_toml(
    runner: CliRunner, tmp_path: Path, trails: list[Path], s3_bucket: tuple[Any, str]
) -> None:
    """A queue URL of a local endpoint (http://, here moto's) is a queue, not a directory."""
    import boto3

    s3, bucket = s3_bucket
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName=f"trail-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    assert url.startswith("http://")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]
        },
    )
    paths = trails[:3]
    for path in paths:
        s3.put_object(Bucket=bucket, Key=f"trail/{path.name}", Body=path.read_bytes())
    config = _config(tmp_path, sources=[url])
    done = _watch(config)
    assert done.returncode == 0, done.stderr
    [source] = _json(runner, "status", "--format", "json", "--config", str(config))["sources"]
    assert (source["source"], source["files"]) == (f"sqs:{url}", len(paths))
    assert source["events"] == len(_records(paths))
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_watch_with_nothing_to_watch_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["watch", "--until-idle", "--config", str(_config(tmp_path))])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error: nothing to watch: ")
    assert len(result.stderr.strip().splitlines()) == 1


TARGET = '[[publish.targets]]\nname = "x"\n'


@pytest.mark.parametrize(
    ("extra", "key", "reason"),
    [
        ('[watch]\nsource = ["logs"]\n', "watch.source", "unknown key"),
        ("[watch]\nsettle_seconds = -1\n", "watch.settle_seconds", "0 or more"),
        ('[watch]\npoll_seconds = "fast"\n', "watch.poll_seconds", "positive number"),
        ('[watch]\nsources = "logs"\n', "watch.sources", "must be a list"),
        ('[watch]\nsources = ["no-such-folder"]\n', "no-such-folder", "no such directory"),
        (TARGET + 'type = "pager"\n', "publish.targets[0].type", "unknown target type 'pager'"),
        (TARGET + 'type = "webhook"\n', "publish.targets[0].url", "required"),
        (TARGET + 'type = "webhook"\nurl = "ftp://x"\n', "publish.targets[0].url", "http"),
        (
            TARGET + 'type = "webhook"\nurl = "http://x"\nretries = 3\n',
            "publish.targets[0].retries",
            "unknown key",
        ),
        (
            TARGET + 'type = "webhook"\nurl = "http://x"\npattern = "{not json"\n',
            "publish.targets[0].pattern",
            "invalid JSON",
        ),
        (
            TARGET + 'type = "webhook"\nurl = "http://x"\npattern = \'{"detail": 5}\'\n',
            "publish.targets[0].pattern",
            "must be an object",
        ),
    ],
)
def test_bad_watch_and_target_settings_are_one_line_naming_the_key(
    runner: CliRunner, tmp_path: Path, logs: Path, extra: str, key: str, reason: str
) -> None:
    sources = None if extra.startswith("[watch]") else [str(logs)]
    config = _config(tmp_path, sources=sources, extra=extra)
    result = runner.invoke(app, ["watch", "--until-idle", "--config", str(config)])
    assert result.exit_code == 1, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1, message
    assert message.startswith("error: ") and key in message and reason in message
    assert "Traceback" not in result.output


def test_failed_deliveries_become_dead_letters_and_retry_puts_them_back(
    runner: CliRunner, tmp_path: Path, logs: Path
) -> None:
    with Webhook(fail_first=ALWAYS, status=400) as refusing:
        config = _config(tmp_path, sources=[str(logs)], hook=refusing.url)
        done = _watch(config)
        assert done.returncode == 0, done.stderr
    findings = _finding_ids(runner, config)
    assert findings and refusing.received == []
    assert refusing.refused == len(findings)  # a 400 is not retried: one attempt each

    dead = _json(runner, "publish", "dead-letters", "--format", "json", "--config", str(config))
    assert {d["finding_id"] for d in dead} == findings
    assert len({d["event_id"] for d in dead}) == len(dead) == len(findings)
    for letter in dead:
        assert letter["target"] == "hook" and letter["attempts"] == 1
        assert "HTTP 400" in letter["last_error"] and letter["failed_at"].endswith("Z")
    assert (
        _json(
            runner,
            "publish",
            "dead-letters",
            "--target",
            "other",
            "--format",
            "json",
            "--config",
            str(config),
        )
        == []
    )
    table = runner.invoke(app, ["publish", "dead-letters", "--config", str(config)])
    assert table.exit_code == 0, table.output
    assert f"{len(findings)} dead letters" in table.stdout
    assert {d["event_id"] for d in dead} <= set(table.stdout.split())
    [target] = _json(runner, "status", "--format", "json", "--config", str(config))["targets"]
    assert (target["delivered"], target["pending"], target["deadLetters"]) == (0, 0, len(findings))

    retried = runner.invoke(app, ["publish", "dead-letters", "--retry", "--config", str(config)])
    assert retried.exit_code == 0, retried.output
    assert f"{len(findings)} dead letters queued for delivery again" in retried.stderr
    [target] = _json(runner, "status", "--format", "json", "--config", str(config))["targets"]
    assert (target["delivered"], target["pending"], target["retrying"], target["deadLetters"]) == (
        0,
        len(findings),
        0,
        0,
    )
    assert _json(runner, "publish", "dead-letters", "--format", "json", "--config", str(config)) == []

    with Webhook() as fixed:  # the receiver is fixed: the next run delivers what was put back
        config = _config(tmp_path, sources=[str(logs)], hook=fixed.url)
        done = _watch(config)
        assert done.returncode == 0, done.stderr
        assert sorted(e["id"] for e in fixed.events()) == sorted(d["event_id"] for d in dead)
    [target] = _json(runner, "status", "--format", "json", "--config", str(config))["targets"]
    assert (target["delivered"], target["pending"], target["deadLetters"]) == (len(findings), 0, 0)


def test_export_keygen_and_decrypt_read_a_local_export(runner: CliRunner, tmp_path: Path) -> None:
    from keibi.findings.samples import sample_findings
    from keibi.publish.export import LocalExport

    key = tmp_path / "export.key"
    made = runner.invoke(app, ["export", "keygen", str(key)])
    assert made.exit_code == 0, made.output
    assert key.stat().st_mode & 0o777 == 0o600
    again = runner.invoke(app, ["export", "keygen", str(key)])
    assert again.exit_code == 1 and "already exists" in again.output and "Traceback" not in again.output

    findings = sample_findings(
        "111122223333",
        "us-east-1",
        ["Recon:EC2/Portscan", "UnauthorizedAccess:EC2/TorClient"],
        now=datetime.now(UTC),
    )
    written = LocalExport(tmp_path / "exports", key).write(
        findings, account="111122223333", region="us-east-1", at=datetime.now(UTC), name="batch-1"
    )
    out = tmp_path / "plain.jsonl"
    read = runner.invoke(app, ["export", "decrypt", written, "--key-file", str(key), "--output", str(out)])
    assert read.exit_code == 0, read.output
    assert [orjson.loads(line)["id"] for line in out.read_bytes().splitlines()] == [f["id"] for f in findings]

    other = tmp_path / "other.key"
    assert runner.invoke(app, ["export", "keygen", str(other)]).exit_code == 0
    wrong = runner.invoke(app, ["export", "decrypt", written, "--key-file", str(other)])
    assert wrong.exit_code == 1 and "Traceback" not in wrong.output
    assert len([line for line in wrong.output.splitlines() if line.strip()]) == 1
