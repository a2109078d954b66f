"""``keibi serve`` with ``[watch] sources``: the watch loop runs beside the API in one process.
Log files dropped into the watched directory become findings that boto3's ``guardduty``
client lists and gets, the same a scan of those files finds; ``/metrics`` counts the files
per source and the deliveries per target; SIGTERM stops the API and the loop with status 0."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config as BotoConfig
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from keibi.cli import app
from keibi.tester import generate
from tests.api.server import KeibiServer
from tests.dbs import postgres_url, sqlite_url
from tests.helpers import scan_findings
from tests.receivers import Webhook

WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("serve-watch-demo")
    generate(out, seed=11, scale=0.2)
    return out


@pytest.fixture
def hook() -> Iterator[Webhook]:
    with Webhook() as receiver:
        yield receiver


def _subset(demo: Path) -> tuple[str, list[Path]]:
    """An account and its us-east-1 CloudTrail and one flow log's files."""
    account = next((demo / "AWSLogs").iterdir())
    trails = sorted((account / "CloudTrail" / "us-east-1").rglob("*.json.gz"))
    flows = sorted(p for p in (account / "vpcflowlogs").rglob("*.log.gz") if "fl-9b07" in p.name)
    assert len(trails) >= 10 and len(flows) >= 10
    return account.name, trails + flows


def _config(path: Path, demo: Path, landing: Path, hook: str) -> Path:
    def q(value: Path | str) -> str:
        return json.dumps(str(value))

    path.write_text(
        f"""
[intel]
threat_lists = [{q(demo / "lists" / "threat.txt")}]
trusted_lists = [{q(demo / "lists" / "trusted.txt")}]
[watch]
sources = [{q(landing)}]
settle_seconds = 0
poll_seconds = 0.1
close_idle_minutes = 0.02                 # windows close once the files stop (1.2 s), as a scan's end
[publish]
retry_base_seconds = 0.05
[[publish.targets]]
name = "hook"
type = "webhook"
url = {q(hook)}
"""
    )
    return path


def _events(files: list[Path]) -> int:
    """CloudTrail records, and flow log lines below their header."""
    total = 0
    for path in files:
        text = gzip.decompress(path.read_bytes())
        total += len(orjson.loads(text)["Records"]) if ".json" in path.name else len(text.splitlines()) - 1
    return total


def _access_key(server: KeibiServer, account: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A key as an operator makes one: ``keibi accounts create`` on the server's store."""
    monkeypatch.setenv("KEIBI_DATABASE_URL", server.store_url)
    monkeypatch.setenv("KEIBI_DATA_DIR", str(server.data_dir))
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    made = CliRunner().invoke(app, ["accounts", "create", "--account-id", account, "--format", "json"])
    assert made.exit_code == 0, made.output
    key: dict[str, Any] = json.loads(made.stdout)
    return key


def _guardduty(server: KeibiServer, key: dict[str, Any]) -> Any:
    return boto3.client(
        "guardduty",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key["accessKeyId"],
        aws_secret_access_key=key["secretAccessKey"],
        config=BotoConfig(retries={"max_attempts": 1}),
    )


def _listed(gd: Any, did: str) -> list[str]:
    ids: list[str] = []
    for page in gd.get_paginator("list_findings").paginate(DetectorId=did):
        ids += page["FindingIds"]
    return sorted(ids)


def _metrics(server: KeibiServer) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _drop(files: list[Path], landing: Path, staging: Path) -> None:
    """Copies ``files`` into ``landing`` all at once: staged beside it, then renamed in."""
    batch = staging / "AWSLogs"
    batch.mkdir(parents=True)
    for path in files:
        shutil.copy(path, batch / path.name)
    os.rename(batch, landing / "AWSLogs")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        (tmp_path / "data").mkdir()
        yield sqlite_url(tmp_path / "data")
    else:
        with postgres_url() as url:
            yield url


def test_serve_watches_a_directory_into_the_api_and_metrics_and_stops_on_sigterm(
    demo: Path, tmp_path: Path, store_url: str, hook: Webhook, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, files = _subset(demo)
    expected = scan_findings(
        files, threat_lists=[demo / "lists" / "threat.txt"], trusted_lists=[demo / "lists" / "trusted.txt"]
    )
    assert len(expected) > 10
    landing, data = tmp_path / "landing", tmp_path / "data"
    landing.mkdir()
    data.mkdir(exist_ok=True)
    config = _config(tmp_path / "keibi.toml", demo, landing, hook.url)
    server = KeibiServer(store_url, data)
    server.start({"KEIBI_CONFIG": str(config)})
    try:
        gd = _guardduty(server, _access_key(server, account, monkeypatch))
        did = gd.create_detector(Enable=True)["DetectorId"]
        assert _listed(gd, did) == []
        other = _guardduty(server, _access_key(server, "111100001111", monkeypatch))
        other_did = other.create_detector(Enable=True)["DetectorId"]

        _drop(files, landing, tmp_path / "staging")
        want = sorted(f["id"] for f in expected)
        source = f"dir:{landing}"
        done = ("keibi_watch_files_total", (("source", source), ("state", "DONE")))
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline and (
            _metrics(server).get(done) != len(files) or _listed(gd, did) != want
        ):
            time.sleep(0.25)
        assert _listed(gd, did) == want

        got = gd.get_findings(DetectorId=did, FindingIds=want)["Findings"]
        assert sorted(
            (
                f["Id"],
                f["Type"],
                f["Service"]["Count"],
                f["Service"]["EventFirstSeen"],
                f["Service"]["EventLastSeen"],
            )
            for f in got
        ) == sorted(
            (
                f["id"],
                f["type"],
                f["service"]["count"],
                f["service"]["eventFirstSeen"],
                f["service"]["eventLastSeen"],
            )
            for f in expected
        )
        assert {f["AccountId"] for f in got} == {account}
        assert _listed(other, other_did) == []  # another account sees none of them

        received = hook.wait_for(len(want))
        assert sorted(e["detail"]["id"] for e in received) == want
        delivered = ("keibi_deliveries_total", (("target", "hook"),))
        while _metrics(server).get(delivered) != len(received) and time.monotonic() < deadline:
            time.sleep(0.1)  # the receiver has it a moment before the store says so
        metrics = _metrics(server)
        assert metrics[done] == len(files)
        assert metrics[("keibi_watch_files_total", (("source", source), ("state", "FAILED")))] == 0
        assert metrics[("keibi_watch_events_total", (("source", source),))] == _events(files)
        assert metrics[delivered] == len(received) == len(hook.received)
    finally:
        code = server.stop()
    assert code == 0
    assert server.log is not None
    lines = [orjson.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    assert not [line for line in lines if line["level"] in ("error", "critical")], lines
    assert lines[-1]["msg"] == "stopped"
