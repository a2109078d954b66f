"""``keibi intel …`` and the intel of ``keibi scan``, through typer's runner with a real store.

Lists are served by a local HTTP server (``tests.intel._http``), S3 by moto's server, never
the internet: every test that runs ``intel update`` without names first points the
``aws-ip-ranges`` list at a local copy.
"""

from __future__ import annotations

import hashlib
import json
import socket
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from keibi.cli import app
from keibi.findings import validate
from keibi.intel import mining_pools
from tests.dbs import postgres_url
from tests.intel._http import FeedServer, Route, feed_server

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
STOP = DATASETS / "stratus-red-team/detonation-logs/aws.defense-evasion.cloudtrail-stop.json"
CALLER = "86.245.153.234"  # sourceIPAddress of the StopLogging call in STOP
SHIPPED_RANGES = str(files("keibi.intel").joinpath("data/aws-ip-ranges.json.gz"))
CUSTOM = "UnauthorizedAccess:IAMUser/MaliciousIPCaller.Custom"

LIST_V1 = f"""# bad actors, curated by the SOC
{CALLER}
198.51.100.0/24
evil.example
not an entry
""".encode()
LIST_V2 = LIST_V1 + b"2001:db8:bad::/48\n"


def version_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("KEIBI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEIBI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return CliRunner()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as running:
        yield running


def ok(result: Result) -> Result:
    assert result.exit_code == 0, result.output
    return result


def one_line_error(result: Result, message: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert message in lines[0]


def as_json(result: Result) -> Any:
    return json.loads(ok(result).stdout)


def info_of(finding: dict[str, Any]) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(finding["service"]["additionalInfo"]["value"])
    return value


def scan_json(runner: CliRunner, *args: str) -> list[dict[str, Any]]:
    findings: list[dict[str, Any]] = as_json(
        runner.invoke(app, ["scan", str(STOP), "--format", "json", *args])
    )
    for finding in findings:
        validate(finding)
    return findings


def by_type(findings: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f["type"]: f for f in findings}


def listed(runner: CliRunner) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in as_json(runner.invoke(app, ["intel", "list", "--format", "json"]))}


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "args",
    [
        ["intel"],
        ["intel", "add"],
        ["intel", "enable"],
        ["intel", "feeds"],
        ["intel", "list"],
        ["intel", "show"],
        ["intel", "remove"],
        ["intel", "activate"],
        ["intel", "deactivate"],
        ["intel", "update"],
        ["intel", "lookup"],
    ],
)
def test_help_everywhere(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage" in result.output


def test_http_list_round_trip(runner: CliRunner, server: FeedServer) -> None:
    """add → list → show → update (ETag, 304) → lookup → scan → change → update → scan → remove."""
    server.routes["/bad.txt"] = Route(LIST_V1, etag='"v1"')
    url = server.url("/bad.txt")
    added = ok(runner.invoke(app, ["intel", "add", "bad-actors", url]))
    assert "added threat list 'bad-actors': 3 entries" in added.stderr
    assert f"{url}:5: not an IP, CIDR or domain: 'not an entry'" in added.stderr
    ok(runner.invoke(app, ["intel", "add", "aws-ip-ranges", SHIPPED_RANGES]))

    record = listed(runner)["bad-actors"]
    assert record["kind"] == "threat" and record["setType"] == "ThreatIntelSet"
    assert (record["format"], record["location"], record["status"]) == ("TXT", url, "ACTIVE")
    assert (record["version"], record["entries"], record["problems"]) == (version_of(LIST_V1), 3, 1)
    assert record["etag"] == '"v1"'
    table = ok(runner.invoke(app, ["intel", "list"])).stdout
    assert "bad-actors" in table and version_of(LIST_V1) in table and "aws-ip-ranges" in table

    shown = as_json(runner.invoke(app, ["intel", "show", "bad-actors", "--format", "json"]))
    assert shown["badEntries"] == [
        {"location": url, "line": 5, "reason": "not an IP, CIDR or domain: 'not an entry'"}
    ]
    assert (
        f"{url}:5: not an IP, CIDR or domain"
        in ok(runner.invoke(app, ["intel", "show", "bad-actors"])).stdout
    )

    # Nothing is due right after adding; --force asks again, with the ETag, and gets a 304.
    not_due = as_json(runner.invoke(app, ["intel", "update", "--format", "json"]))
    assert {r["name"]: r["status"] for r in not_due} == {"bad-actors": "not-due", "aws-ip-ranges": "not-due"}
    before = len(server.requests)
    forced = as_json(runner.invoke(app, ["intel", "update", "bad-actors", "--force", "--format", "json"]))
    assert [(r["name"], r["status"], r["version"]) for r in forced] == [
        ("bad-actors", "unchanged", version_of(LIST_V1))
    ]
    [asked] = server.requests[before:]
    assert asked.headers["if-none-match"] == '"v1"'

    lookup = as_json(runner.invoke(app, ["intel", "lookup", CALLER, "--format", "json"]))
    assert lookup["verdict"] == "threat" and lookup["threatListName"] == "bad-actors"
    [hit] = lookup["lists"]
    assert (hit["name"], hit["origin"], hit["version"]) == ("bad-actors", "store", version_of(LIST_V1))
    assert hit["entries"] == [{"entry": CALLER, "match": "exact IP"}]
    assert lookup["geo"]["country"] == {"countryCode": "FR", "countryName": "France"}
    assert lookup["aws"] is None

    first = info_of(by_type(scan_json(runner))[CUSTOM])
    assert (first["threatListName"], first["threatListVersion"]) == ("bad-actors", version_of(LIST_V1))

    server.routes["/bad.txt"] = Route(LIST_V2, etag='"v2"')
    updated = as_json(runner.invoke(app, ["intel", "update", "bad-actors", "--force", "--format", "json"]))
    assert [(r["status"], r["version"], r["entries"]) for r in updated] == [
        ("updated", version_of(LIST_V2), 4)
    ]
    assert listed(runner)["bad-actors"]["previousVersion"] == version_of(LIST_V1)
    second = info_of(by_type(scan_json(runner, "--rescan"))[CUSTOM])
    assert second["threatListVersion"] == version_of(LIST_V2)

    removed = ok(runner.invoke(app, ["intel", "remove", "bad-actors"]))
    assert "removed intel list 'bad-actors'" in removed.stderr
    assert "bad-actors" not in listed(runner)
    assert CUSTOM not in by_type(scan_json(runner, "--rescan"))


def test_update_failure_is_one_line_and_exit_3(runner: CliRunner, server: FeedServer) -> None:
    server.routes["/bad.txt"] = Route(LIST_V1)
    ok(runner.invoke(app, ["intel", "add", "bad-actors", server.url("/bad.txt")]))
    server.routes["/bad.txt"] = Route(b"oops", status=503)
    result = runner.invoke(app, ["intel", "update", "bad-actors", "--force"])
    assert result.exit_code == 3, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("failed: bad-actors: ") and "HTTP 503" in line
    record = listed(runner)["bad-actors"]
    assert record["version"] == version_of(LIST_V1) and "HTTP 503" in record["lastError"]
    assert record["status"] == "ACTIVE"  # the last good version stays in use
    assert CUSTOM in by_type(scan_json(runner))


def test_s3_trusted_list_wins_in_lookup(
    runner: CliRunner, s3_bucket: tuple[Any, str], tmp_path: Path
) -> None:
    client, bucket = s3_bucket
    client.put_object(Bucket=bucket, Key="lists/office.txt", Body=b"86.245.153.0/24\n")
    threat = tmp_path / "threat.txt"
    threat.write_bytes(LIST_V1)
    ok(runner.invoke(app, ["intel", "add", "office", f"s3://{bucket}/lists/office.txt", "--kind", "trusted"]))
    record = listed(runner)["office"]
    assert (record["kind"], record["setType"], record["entries"]) == ("trusted", "IPSet", 1)

    lookup = as_json(
        runner.invoke(app, ["intel", "lookup", CALLER, "--threat-list", str(threat), "--format", "json"])
    )
    assert lookup["verdict"] == "trusted" and lookup["trusted"] is True
    assert lookup["threatListName"] is None  # trusted wins: no threat list is named
    assert [(x["name"], x["kind"], x["origin"], x["entries"][0]["match"]) for x in lookup["lists"]] == [
        ("office", "trusted", "store", "CIDR"),
        ("threat", "threat", "--threat-list", "exact IP"),
    ]
    assert lookup["lists"][1]["version"] == version_of(LIST_V1)
    text = ok(runner.invoke(app, ["intel", "lookup", CALLER, "--threat-list", str(threat)])).stdout
    assert "trusted lists win" in text and "86.245.153.0/24" in text
    assert CUSTOM not in by_type(scan_json(runner, "--threat-list", str(threat)))


def test_enable_catalogue_feed_from_a_mirror(runner: CliRunner, server: FeedServer) -> None:
    body = f"# Tor exit list mirror\n{CALLER}\n".encode()
    server.routes["/torbulkexitlist"] = Route(body, last_modified="Tue, 24 Nov 2026 10:00:00 GMT")
    mirror = server.url("/torbulkexitlist")
    added = ok(runner.invoke(app, ["intel", "enable", "tor-exits", "--location", mirror]))
    assert "added feed tor-exits (Tor) as list 'tor-exits': 1 entry" in added.stderr
    record = listed(runner)["tor-exits"]
    assert (record["feed"], record["category"], record["location"]) == ("tor-exits", "Tor", mirror)
    assert record["refreshMinutes"] == 60
    feeds = {f["name"]: f for f in as_json(runner.invoke(app, ["intel", "feeds", "--format", "json"]))}
    assert feeds["tor-exits"]["enabledAs"] == ["tor-exits"] and feeds["feodo-c2"]["enabledAs"] == []
    assert "tor-exits" in ok(runner.invoke(app, ["intel", "feeds"])).stdout

    lookup = as_json(runner.invoke(app, ["intel", "lookup", CALLER, "--format", "json"]))
    assert (lookup["feed"], lookup["feedCategory"]) == ("tor-exits", "Tor")
    tor = info_of(by_type(scan_json(runner))["UnauthorizedAccess:IAMUser/TorIPCaller"])
    assert (tor["threatListName"], tor["threatListVersion"]) == ("tor-exits", version_of(body))

    ok(runner.invoke(app, ["intel", "deactivate", "tor-exits"]))
    assert listed(runner)["tor-exits"]["status"] == "INACTIVE"
    assert "UnauthorizedAccess:IAMUser/TorIPCaller" not in by_type(scan_json(runner, "--rescan"))
    ok(runner.invoke(app, ["intel", "activate", "tor-exits"]))
    assert "UnauthorizedAccess:IAMUser/TorIPCaller" in by_type(scan_json(runner, "--rescan"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["intel", "add", "x", "{list}", "--format", "XML"], "unknown format 'XML'"),
        (["intel", "add", "x", "ftp://example.org/list.txt"], "cannot fetch 'ftp://example.org/list.txt'"),
        (
            ["intel", "add", "x", "http://127.0.0.1:{port}/list.txt"],
            "intel list 'x' not added: http://127.0.0.1:",
        ),
        (["intel", "add", "x", "{tmp}/missing.txt"], "missing.txt: cannot read"),
        (["intel", "add", "x", "{list}", "--kind", "trusted", "--category", "Tor"], "no threat category"),
        (["intel", "add", "x", "{list}", "--category", "Bogus"], "unknown category 'Bogus'"),
        (["intel", "enable", "no-such-feed"], "no feed named 'no-such-feed' in the catalogue"),
        (["intel", "remove", "nothing"], "no intel list named 'nothing'"),
        (["intel", "show", "nothing"], "no intel list named 'nothing'"),
        (["intel", "activate", "nothing"], "no intel list named 'nothing'"),
        (["intel", "update", "nothing"], "no intel list named 'nothing'"),
        (["intel", "lookup", "not a value"], "'not a value' is not an IP address or a domain name"),
        (["intel", "lookup", CALLER, "--threat-list", "/no/list.txt"], "/no/list.txt"),
    ],
)
def test_mistakes_are_one_line_and_keep_nothing(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    good = tmp_path / "list.txt"
    good.write_bytes(LIST_V1)
    port = closed_port()
    filled = [a.format(list=good, tmp=tmp_path, port=port) for a in args]
    one_line_error(runner.invoke(app, filled), message)
    assert listed(runner) == {}


def test_only_bad_entries_is_refused(runner: CliRunner, tmp_path: Path) -> None:
    html = tmp_path / "page.txt"
    html.write_text("<html>\n<body>rate limited</body>\n</html>\n")
    one_line_error(runner.invoke(app, ["intel", "add", "x", str(html)]), "no usable entry")
    assert listed(runner) == {}


def test_duplicate_name_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    good = tmp_path / "list.txt"
    good.write_bytes(LIST_V1)
    ok(runner.invoke(app, ["intel", "add", "bad-actors", str(good)]))
    one_line_error(
        runner.invoke(app, ["intel", "add", "bad-actors", str(good)]),
        "an intel list named 'bad-actors' already exists",
    )
    assert listed(runner)["bad-actors"]["version"] == version_of(LIST_V1)


def test_scan_file_list_is_versioned_and_warns_per_bad_entry(runner: CliRunner, tmp_path: Path) -> None:
    threat = tmp_path / "bad.txt"
    body = CALLER + "\n" + "".join(f"bad entry {i}\n" for i in range(25))
    threat.write_text(body)
    result = runner.invoke(app, ["scan", str(STOP), "--threat-list", str(threat), "--format", "json"])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 20
    assert warnings[0] == f"warning: {threat}:2: not an IP, CIDR or domain: 'bad entry 0'"
    assert "… and 5 more list warnings" in result.stderr
    info = info_of(by_type(json.loads(result.stdout))[CUSTOM])
    assert (info["threatListName"], info["threatListVersion"]) == ("bad", version_of(body.encode()))


def test_lookup_shipped_feed_and_stored_aws_ranges(runner: CliRunner, tmp_path: Path) -> None:
    pool = mining_pools().domains["domain"][0]
    lookup = as_json(runner.invoke(app, ["intel", "lookup", f"eu1.{pool}", "--format", "json"]))
    assert (lookup["kind"], lookup["feed"], lookup["feedCategory"]) == (
        "domain",
        "keibi-mining-pools",
        "CryptoCurrency",
    )
    [hit] = lookup["lists"]
    assert hit["origin"] == "shipped" and hit["version"] is not None
    assert hit["entries"] == [{"entry": pool, "match": "parent domain"}]

    before = as_json(runner.invoke(app, ["intel", "lookup", "203.0.113.5", "--format", "json"]))
    assert before["aws"] is None and before["awsRanges"]["origin"] == "shipped"
    newer = tmp_path / "ip-ranges.json"
    newer.write_text(
        json.dumps(
            {
                "syncToken": "4102444800",
                "createDate": "2099-12-31-00-00-00",
                "prefixes": [
                    {
                        "ip_prefix": "203.0.113.0/24",
                        "region": "eu-west-3",
                        "service": "EC2",
                        "network_border_group": "eu-west-3",
                    }
                ],
                "ipv6_prefixes": [],
            }
        )
    )
    ok(runner.invoke(app, ["intel", "add", "aws-ip-ranges", str(newer)]))
    after = as_json(runner.invoke(app, ["intel", "lookup", "203.0.113.5", "--format", "json"]))
    assert after["aws"] == {"prefix": "203.0.113.0/24", "region": "eu-west-3", "service": "EC2"}
    assert after["awsRanges"] == {
        "createDate": "2099-12-31-00-00-00",
        "syncToken": "4102444800",
        "origin": "store",
    }
    assert (
        "AWS: in 203.0.113.0/24 (eu-west-3, EC2"
        in ok(runner.invoke(app, ["intel", "lookup", "203.0.113.5"])).stdout
    )


def test_postgres_add_then_scan(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    threat = tmp_path / "bad.txt"
    threat.write_bytes(LIST_V1)
    with postgres_url() as url:
        monkeypatch.setenv("KEIBI_DATABASE_URL", url)
        ok(runner.invoke(app, ["intel", "add", "bad-actors", str(threat)]))
        assert listed(runner)["bad-actors"]["version"] == version_of(LIST_V1)
        info = info_of(by_type(scan_json(runner))[CUSTOM])
        assert (info["threatListName"], info["threatListVersion"]) == ("bad-actors", version_of(LIST_V1))
        ok(runner.invoke(app, ["intel", "remove", "bad-actors"]))
        assert listed(runner) == {}


def test_scan_and_lookup_flags_take_a_list_format(runner: CliRunner, tmp_path: Path) -> None:
    """``--threat-list FORMAT=PATH`` reads that format; a bare path is TXT."""
    pulse = Path(__file__).parent / "intel" / "formats" / "samples" / "otx_pulse.csv"
    lookup = as_json(
        runner.invoke(
            app, ["intel", "lookup", "198.51.100.23", "--threat-list", f"otx_csv={pulse}", "--format", "json"]
        )
    )
    assert lookup["verdict"] == "threat" and lookup["threatListName"] == "otx_pulse"
    trusted = tmp_path / "ok.txt"
    trusted.write_text("192.0.2.0/24\n")
    both = ["--threat-list", f"OTX_CSV={pulse}", "--trusted-list", str(trusted), "--format", "json"]
    assert as_json(runner.invoke(app, ["intel", "lookup", "192.0.2.9", *both]))["verdict"] == "trusted"
    as_txt = ["intel", "lookup", "198.51.100.23", "--threat-list", str(pulse), "--format", "json"]
    assert as_json(runner.invoke(app, as_txt))["verdict"] == "none"  # CSV rows are no TXT entries
