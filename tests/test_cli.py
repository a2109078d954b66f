"""The CLI contract, through typer's runner (in process) and the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from keibi.cli import app
from keibi.findings import validate

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ROOT_SCENARIO = DATASETS / "panther-analysis/test-scenarios/compromised-root-creds"
STOP = DATASETS / "stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KEIBI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEIBI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["scan"],
        ["findings"],
        ["findings", "list"],
        ["findings", "show"],
        ["detectors"],
        ["tester", "generate"],
    ],
)
def test_help_everywhere(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_scan_json_is_guardduty_findings(runner: CliRunner) -> None:
    result = runner.invoke(
        app, ["scan", str(ROOT_SCENARIO / "attacker_cloudtrail.json"), str(STOP), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert {f["type"] for f in findings} == {
        "Policy:IAMUser/RootCredentialUsage",
        "Stealth:IAMUser/CloudTrailLoggingDisabled",
    }
    for finding in findings:
        validate(finding)


def test_scan_table_then_findings_list_and_show(runner: CliRunner) -> None:
    result = runner.invoke(app, ["scan", str(STOP)])
    assert result.exit_code == 0, result.output
    assert "Stealth:IAMUser/CloudTrailLoggingDisabled" in result.stdout
    assert "Findings by severity and type" in result.stdout
    listed = runner.invoke(app, ["findings", "list", "--severity", "low", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    [finding] = json.loads(listed.stdout)
    assert finding["type"] == "Stealth:IAMUser/CloudTrailLoggingDisabled"
    assert (
        json.loads(runner.invoke(app, ["findings", "list", "--severity", "high", "--format", "json"]).stdout)
        == []
    )
    shown = runner.invoke(app, ["findings", "show", finding["id"], "--format", "table"])
    assert shown.exit_code == 0, shown.output
    assert "aws.defense-evasion.cloudtrail-stop.json" in shown.stdout


def test_scan_output_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    result = runner.invoke(app, ["scan", str(STOP), "--format", "json", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert [f["type"] for f in json.loads(target.read_text())] == [
        "Stealth:IAMUser/CloudTrailLoggingDisabled"
    ]


def test_skipped_input_sets_exit_status_and_names_the_line(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "events.jsonl"
    good = json.loads(STOP.read_text())[0]
    bad.write_text(json.dumps(good) + "\n{not json\n")
    result = runner.invoke(app, ["scan", str(bad), "--format", "json"])
    assert result.exit_code == 3
    assert f"{bad}:2:" in result.stderr
    assert [f["type"] for f in json.loads(result.stdout)] == ["Stealth:IAMUser/CloudTrailLoggingDisabled"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scan", "/no/such/place"], "/no/such/place"),
        (["scan", str(STOP), "--threat-list", "/no/list.txt"], "/no/list.txt"),
        (["findings", "show", "0123"], "no finding with id 0123"),
    ],
)
def test_user_mistakes_are_one_line(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_detectors_reports_coverage(runner: CliRunner) -> None:
    result = runner.invoke(app, ["detectors", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] == 88
    implemented = {r["type"] for r in report["types"] if r["detector"]}
    assert "UnauthorizedAccess:EC2/SSHBruteForce" in implemented
    assert report["implemented"] == len(implemented)


def test_console_script_is_installed() -> None:
    keibi = shutil.which("keibi") or str(Path(__file__).resolve().parents[1] / ".venv/bin/keibi")
    done = subprocess.run([keibi, "--version"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith("keibi ")


def test_scan_s3_prefix(runner: CliRunner, s3_bucket: tuple[Any, str]) -> None:
    """``keibi scan s3://bucket/prefix`` reads through boto3 (moto's server) like a local tree."""
    client, bucket = s3_bucket
    key = "AWSLogs/111122223333/CloudTrail/us-east-1/2026/11/01/root.json"
    client.put_object(Bucket=bucket, Key=key, Body=(ROOT_SCENARIO / "attacker_cloudtrail.json").read_bytes())
    client.put_object(Bucket=bucket, Key="AWSLogs/stop.json", Body=STOP.read_bytes())
    result = runner.invoke(app, ["scan", f"s3://{bucket}/AWSLogs/", "--format", "json"])
    assert result.exit_code == 0, result.output
    findings = json.loads(result.stdout)
    assert sorted(f["type"] for f in findings) == [
        "Policy:IAMUser/RootCredentialUsage",
        "Stealth:IAMUser/CloudTrailLoggingDisabled",
    ]
    pointers = json.loads(findings[0]["service"]["additionalInfo"]["value"])["keibi"]["evidence"]
    assert all(p["file"].startswith(f"s3://{bucket}/AWSLogs/") for p in pointers)


def test_second_scan_reads_each_file_once(runner: CliRunner) -> None:
    first = runner.invoke(app, ["scan", str(STOP), "--format", "json"])
    assert [f["service"]["count"] for f in json.loads(first.stdout)] == [1]
    second = runner.invoke(app, ["scan", str(STOP), "--format", "json"])
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout) == []
    assert "left out 1 files an earlier scan already read" in second.stderr
    third = runner.invoke(app, ["scan", str(STOP), "--format", "json", "--rescan"])
    assert [f["service"]["count"] for f in json.loads(third.stdout)] == [2]


def test_relative_and_absolute_paths_are_one_file(runner: CliRunner, tmp_path: Path) -> None:
    """Evidence names the file absolutely, and scanning it again by another spelling reads nothing."""
    local = tmp_path / "logs" / "stop.json"
    local.parent.mkdir()
    local.write_bytes(STOP.read_bytes())
    first = json.loads(runner.invoke(app, ["scan", "logs", "--format", "json"]).stdout)
    pointers = json.loads(first[0]["service"]["additionalInfo"]["value"])["keibi"]["evidence"]
    assert [p["file"] for p in pointers] == [str(local)]
    assert json.loads(runner.invoke(app, ["scan", str(local), "--format", "json"]).stdout) == []


def test_scan_feed_flag_needs_category_and_path(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["scan", str(tmp_path), "--feed", "tor-exits.txt"])
    assert result.exit_code == 1
    assert "expected CATEGORY=PATH" in result.output


def test_scan_feed_flag_refuses_unknown_category(runner: CliRunner, tmp_path: Path) -> None:
    listed = tmp_path / "x.txt"
    listed.write_text("203.0.113.9\n")
    result = runner.invoke(app, ["scan", str(tmp_path), "--feed", f"Bogus={listed}"])
    assert result.exit_code == 1
    assert "unknown feed category 'Bogus'" in result.output
