"""``keibi profiles``: what the behaviour baselines learned, as a table and as JSON, after a real scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keibi.cli import app
from tests.detect.behavior._history import ACCOUNT, day, user_call, write_cloudtrail


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KEIBI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEIBI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.mark.parametrize(
    "args", [["profiles"], ["profiles", "list"], ["profiles", "show"], ["tester", "history"]]
)
def test_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_profiles_after_a_scan(runner: CliRunner, tmp_path: Path) -> None:
    calls = [user_call(day(d, 9), "alice", "ec2.amazonaws.com", "DescribeInstances") for d in range(10)]
    calls += [user_call(day(d, 10), "alice", "iam.amazonaws.com", "ListUsers") for d in range(0, 10, 3)]
    write_cloudtrail(tmp_path / "logs", calls)
    assert runner.invoke(app, ["scan", "logs", "--format", "json", "--output", "out.json"]).exit_code == 0

    listed = json.loads(runner.invoke(app, ["profiles", "list", "--format", "json"]).output)
    iam = next(row for row in listed if row["detector"] == "behavior.iam_anomaly")
    assert iam["entities"] == 2  # alice and her account

    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    shown = json.loads(runner.invoke(app, ["profiles", "show", alice, "--format", "json"]).output)
    apis = {row["value"]: row for row in shown if row["feature"] == "api"}
    assert set(apis) == {"ec2:DescribeInstances", "iam:ListUsers"}
    assert (apis["ec2:DescribeInstances"]["count"], apis["ec2:DescribeInstances"]["days"]) == (10, 10)
    assert apis["ec2:DescribeInstances"]["frequency"] == "FREQUENT"
    assert apis["iam:ListUsers"]["days"] == 4

    table = runner.invoke(app, ["profiles", "show", alice])
    assert table.exit_code == 0 and "iam:ListUsers" in table.output

    missing = runner.invoke(app, ["profiles", "show", "arn:aws:iam::1:user/nobody"])
    assert missing.exit_code == 1 and "no profile for entity" in missing.output
