"""``keibi accounts``: keys issued, listed without secrets, switched off and on, deleted; and the
key printed by ``create`` is one the API's verifier accepts."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from typer.testing import CliRunner

from keibi.api.auth import Verifier
from keibi.cli import app
from keibi.store import Store
from keibi.store.accounts import find_key


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KEIBI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEIBI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def _store(tmp_path: Path) -> Store:
    return Store.for_data_dir(tmp_path / "data")


@pytest.mark.parametrize(
    "args",
    [
        ["accounts"],
        ["accounts", "create"],
        ["accounts", "list"],
        ["accounts", "delete"],
        ["accounts", "deactivate"],
        ["accounts", "activate"],
    ],
)
def test_help(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_create_prints_the_key_once_with_a_hint(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["accounts", "create", "--account-id", "111122223333", "--name", "ci"])
    assert result.exit_code == 0, result.output
    fields = dict(re.findall(r"^(Account id|Access key id|Secret access key):\s+(\S+)$", result.stdout, re.M))
    assert fields["Account id"] == "111122223333"
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", fields["Access key id"])
    assert "aws configure" in result.stderr and "--endpoint-url http://127.0.0.1:" in result.stderr
    assert fields["Secret access key"] not in result.stderr
    with _store(tmp_path) as store:
        stored = find_key(store, fields["Access key id"])
    assert stored is not None
    assert (stored.account_id, stored.name, stored.secret_access_key) == (
        "111122223333",
        "ci",
        fields["Secret access key"],
    )


def test_create_as_json_and_for_a_new_account(runner: CliRunner) -> None:
    result = runner.invoke(app, ["accounts", "create", "--format", "json"])
    assert result.exit_code == 0, result.output
    key = json.loads(result.stdout)
    assert set(key) == {"accountId", "accessKeyId", "secretAccessKey", "name", "status", "createdAt"}
    assert re.fullmatch(r"[0-9]{12}", key["accountId"])
    assert (key["name"], key["status"]) == (None, "Active")
    assert len(key["secretAccessKey"]) == 40


def test_list_never_shows_secrets(runner: CliRunner) -> None:
    made = [
        json.loads(
            runner.invoke(app, ["accounts", "create", "--account-id", acct, "--format", "json"]).stdout
        )
        for acct in ("222200000000", "111100000000", "111100000000")
    ]
    listed = runner.invoke(app, ["accounts", "list", "--format", "json"])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [r["accountId"] for r in rows] == ["111100000000", "111100000000", "222200000000"]
    assert {r["accessKeyId"] for r in rows} == {m["accessKeyId"] for m in made}
    assert all("secretAccessKey" not in r for r in rows)
    only = json.loads(
        runner.invoke(app, ["accounts", "list", "--account-id", "222200000000", "--format", "json"]).stdout
    )
    assert [r["accessKeyId"] for r in only] == [made[0]["accessKeyId"]]
    table = runner.invoke(app, ["accounts", "list"])
    assert table.exit_code == 0 and made[1]["accessKeyId"] in table.stdout
    assert not any(m["secretAccessKey"] in table.output for m in made)


def test_list_when_there_are_none(runner: CliRunner) -> None:
    assert json.loads(runner.invoke(app, ["accounts", "list", "--format", "json"]).stdout) == []
    empty = runner.invoke(app, ["accounts", "list"])
    assert empty.exit_code == 0 and "keibi accounts create" in empty.stderr


def test_deactivate_activate_and_delete(runner: CliRunner, tmp_path: Path) -> None:
    key = json.loads(runner.invoke(app, ["accounts", "create", "--format", "json"]).stdout)
    key_id = key["accessKeyId"]

    off = runner.invoke(app, ["accounts", "deactivate", key_id])
    assert off.exit_code == 0 and "deactivated" in off.stderr and key["accountId"] in off.stderr
    assert (
        json.loads(runner.invoke(app, ["accounts", "list", "--format", "json"]).stdout)[0]["status"]
        == "Inactive"
    )
    with _store(tmp_path) as store:
        found = find_key(store, key_id)
    assert found is not None and not found.active

    on = runner.invoke(app, ["accounts", "activate", key_id])
    assert on.exit_code == 0
    assert (
        json.loads(runner.invoke(app, ["accounts", "list", "--format", "json"]).stdout)[0]["status"]
        == "Active"
    )

    gone = runner.invoke(app, ["accounts", "delete", key_id])
    assert gone.exit_code == 0 and "deleted" in gone.stderr
    assert json.loads(runner.invoke(app, ["accounts", "list", "--format", "json"]).stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["accounts", "create", "--account-id", "12345"], "an AWS account id is 12 digits, not '12345'"),
        (["accounts", "list", "--account-id", "abc"], "an AWS account id is 12 digits, not 'abc'"),
        (["accounts", "delete", "AKIANOSUCHKEY0000000"], "no access key 'AKIANOSUCHKEY0000000'"),
        (["accounts", "deactivate", "AKIANOSUCHKEY0000000"], "no access key 'AKIANOSUCHKEY0000000'"),
        (["accounts", "activate", "AKIANOSUCHKEY0000000"], "no access key 'AKIANOSUCHKEY0000000'"),
    ],
)
def test_mistakes_are_one_line(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def test_the_printed_key_signs_requests_the_api_accepts(runner: CliRunner, tmp_path: Path) -> None:
    key = json.loads(runner.invoke(app, ["accounts", "create", "--format", "json"]).stdout)
    request = AWSRequest("GET", "http://127.0.0.1:8080/detector")
    SigV4Auth(Credentials(key["accessKeyId"], key["secretAccessKey"]), "guardduty", "us-east-1").add_auth(
        request
    )
    headers = {"Host": "127.0.0.1:8080", **request.headers}
    with _store(tmp_path) as store:
        verifier = Verifier(lambda key_id: find_key(store, key_id))
        caller = verifier.verify("GET", "/detector", "", headers, b"")
    assert (caller.account_id, caller.access_key_id, caller.region) == (
        key["accountId"],
        key["accessKeyId"],
        "us-east-1",
    )
