"""Exactly once, proven by killing: ``keibi watch`` is killed with SIGKILL at random moments
(mid-file, mid-batch, mid-publish) and restarted, many times; the store it ends with and the
events its webhook received equal those of a run never interrupted. Nothing lost, nothing
counted twice; a delivery may repeat (at least once) but always with the same event id."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from keibi.store import Store
from keibi.tester import generate
from tests.dbs import postgres_url, sqlite_url
from tests.receivers import Webhook

KEIBI = [sys.executable, "-m", "keibi.cli"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("crash-demo")
    generate(out, seed=5, scale=0.2)
    return out


def _config(path: Path, demo: Path, url: str, hook: str) -> Path:
    path.write_text(
        f"""
[keibi]
database_url = "{url}"
[intel]
threat_lists = ["{demo / "lists" / "threat.txt"}"]
trusted_lists = ["{demo / "lists" / "trusted.txt"}"]
[watch]
sources = ["{demo / "AWSLogs"}"]
settle_seconds = 0
poll_seconds = 0.1
group_files = 2
[publish]
retry_base_seconds = 0.05
[[publish.targets]]
name = "hook"
type = "webhook"
url = "{hook}"
"""
    )
    return path


def _watch(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [*KEIBI, "watch", "--until-idle", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def _outcome(url: str) -> dict[str, Any]:
    """What a run leaves in the store, without wall-clock times."""
    with Store(url) as store, store.transaction("read", read=True) as conn:
        findings = sorted(
            conn.execute(
                sa.text("SELECT id, type, count, event_first_seen, event_last_seen, archived FROM findings")
            ).all()
        )
        usage = sorted(
            conn.execute(
                sa.text(
                    "SELECT day, account_id, region, data_source, resource_id, sum(events), sum(bytes) "
                    "FROM usage GROUP BY day, account_id, region, data_source, resource_id"
                )
            ).all()
        )
        manifest = sorted(
            conn.execute(sa.text("SELECT uri, size, state, events, errors FROM processed_files")).all()
        )
        events = sorted(conn.execute(sa.text("SELECT event_id, finding_id, kind FROM publish_events")).all())
        undelivered = conn.execute(
            sa.text("SELECT count(*) FROM deliveries WHERE delivered_at IS NULL")
        ).scalar()
    return {
        "findings": findings,
        "usage": usage,
        "manifest": manifest,
        "events": events,
        "undelivered": undelivered,
    }


def _run_to_the_end(config: Path, timeout: float = 180) -> None:
    proc = _watch(config)
    assert proc.wait(timeout=timeout) == 0


@pytest.mark.parametrize("db", ["sqlite", "postgres"])
def test_kill_9_at_random_moments_changes_nothing(db: str, demo: Path, tmp_path: Path) -> None:
    kills = 8 if db == "sqlite" else 4
    rng = random.Random(20261124)
    with Webhook() as reference_hook, Webhook(delay=0.01) as crash_hook:
        if db == "sqlite":
            reference_url, crash_url = sqlite_url(tmp_path / "ref"), sqlite_url(tmp_path / "crash")
            (tmp_path / "ref").mkdir()
            (tmp_path / "crash").mkdir()
            _run_to_the_end(_config(tmp_path / "ref.toml", demo, reference_url, reference_hook.url))
            reference = _outcome(reference_url)
            landed = _crash_and_finish(
                _config(tmp_path / "crash.toml", demo, crash_url, crash_hook.url), crash_url, kills, rng
            )
            crashed = _outcome(crash_url)
        else:
            with postgres_url() as reference_url, postgres_url() as crash_url:
                _run_to_the_end(_config(tmp_path / "ref.toml", demo, reference_url, reference_hook.url))
                reference = _outcome(reference_url)
                landed = _crash_and_finish(
                    _config(tmp_path / "crash.toml", demo, crash_url, crash_hook.url), crash_url, kills, rng
                )
                crashed = _outcome(crash_url)

    assert len(reference["findings"]) > 20 and len(reference["manifest"]) > 100
    # The kills landed while files were still being read, and while events were being delivered.
    files = len(reference["manifest"])
    assert len(landed) >= kills // 2, landed
    assert sum(1 for n, _ in landed if 0 < n < files) >= kills // 2, landed
    assert any(d > 0 for _, d in landed), landed
    assert reference["undelivered"] == 0 and crashed["undelivered"] == 0
    for key in ("findings", "usage", "manifest", "events"):
        assert crashed[key] == reference[key], key
    # Each event reached its receiver, under the same id; repeats are allowed, losses are not.
    sent = {eid for eid, _, _ in reference["events"]}
    assert set(reference_hook.event_ids()) == sent
    assert set(crash_hook.event_ids()) == sent
    assert len(reference_hook.event_ids()) == len(sent)  # no crash, no repeat
    by_id = {e["id"]: e["detail"]["id"] for e in crash_hook.events()}
    assert by_id == {eid: fid for eid, fid, _ in reference["events"]}


def _crash_and_finish(config: Path, url: str, kills: int, rng: random.Random) -> list[tuple[int, int]]:
    """Kill ``kills`` runs at random moments, then run to the end; returns (files committed,
    deliveries made) after each kill, to show where the kills landed."""
    landed = []
    for _ in range(kills):
        proc = _watch(config)
        time.sleep(rng.uniform(0.8, 2.5))  # after start-up: somewhere in reading, detecting, publishing
        if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
            break
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        with Store(url) as store, store.transaction("read", read=True) as conn:
            files = conn.execute(sa.text("SELECT count(*) FROM processed_files")).scalar()
            delivered = conn.execute(
                sa.text("SELECT count(*) FROM deliveries WHERE delivered_at IS NOT NULL")
            ).scalar()
            landed.append((int(files or 0), int(delivered or 0)))
    _run_to_the_end(config)
    return landed
