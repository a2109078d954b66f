"""The AWS CLI, unchanged, against ``keibi serve`` (a smoke test of a second real client)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from tests.api.server import KeibiServer


def _aws(api: KeibiServer, key: Any, tmp: Path, *args: str) -> Any:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": key.access_key_id,
        "AWS_SECRET_ACCESS_KEY": key.secret_access_key,
        "AWS_DEFAULT_REGION": "eu-central-1",
        "AWS_CONFIG_FILE": str(tmp / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "credentials"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "guardduty", *args, "--endpoint-url", api.url, "--output", "json"],
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    return orjson.loads(done.stdout) if done.stdout.strip() else None


def test_aws_cli_creates_a_detector_and_lists_findings(api: KeibiServer, tmp_path: Path) -> None:
    key = api.account()
    created = _aws(api, key, tmp_path, "create-detector", "--enable")
    did = created["DetectorId"]
    assert _aws(api, key, tmp_path, "list-detectors")["DetectorIds"] == [did]
    _aws(
        api,
        key,
        tmp_path,
        "create-sample-findings",
        "--detector-id",
        did,
        "--finding-types",
        "Recon:EC2/Portscan",
    )
    listed = _aws(
        api,
        key,
        tmp_path,
        "list-findings",
        "--detector-id",
        did,
        "--finding-criteria",
        '{"Criterion": {"type": {"Equals": ["Recon:EC2/Portscan"]}}}',
    )
    assert len(listed["FindingIds"]) == 1
    got = _aws(
        api, key, tmp_path, "get-findings", "--detector-id", did, "--finding-ids", listed["FindingIds"][0]
    )
    assert got["Findings"][0]["Type"] == "Recon:EC2/Portscan"
    assert got["Findings"][0]["Region"] == "eu-central-1"
