"""CloudTrail batches say whether ``remote_ip`` is AWS's; flow and DNS batches do not (hot path).

Input: the CloudTrail records of Panther's IMDS-credential-exfiltration rule tests (an EC2
address in us-west-2, 45.33.32.156, private 10.x, ``AWS Internal``, a service host name),
plus the same record shape from an S3 and an IPv6 address, parsed by the real CloudTrail
source.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import keibi.pipeline
import tests.helpers
from keibi.cli import app
from keibi.config import load_config
from keibi.enrich import enrich
from keibi.enrich.intel import cloudtrail_remote
from keibi.errors import ConfigError
from keibi.intel import Intel, IntelList, builtin_aws_ranges
from keibi.sources import Report, SourceName, plan, read
from tests.helpers import scan_result

DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"
RULE_TESTS = DATASETS / "panther-analysis/rule-tests/cloudtrail_rule_tests.jsonl"
AWS_COLS = ["remote_aws_prefix", "remote_aws_region", "remote_aws_service"]


def _records() -> list[dict[str, Any]]:
    logs = [
        json.loads(line)["log"]
        for line in RULE_TESTS.read_text().splitlines()
        if json.loads(line)["rule_id"] == "AWS.CloudTrail.IMDSCredentialExfiltration"
    ]
    template = next(log for log in logs if log["sourceIPAddress"] == "52.42.146.205")
    extra = [{**template, "sourceIPAddress": ip} for ip in ("52.216.10.20", "2600:1f18:4000::17")]
    return [{k: v for k, v in log.items() if k != "p_enrichment"} for log in [*logs, *extra]]


def _write(tmp_path: Path, records: list[dict[str, Any]]) -> Path:
    path = tmp_path / "events.json"
    path.write_text(json.dumps({"Records": records}))
    return path


def _batch(path: Path, source: SourceName = "cloudtrail") -> pl.DataFrame:
    report = Report()
    planned = plan([str(path)], report)
    assert [p.source for p in planned] == [source], report
    return pl.concat(list(read(planned[0], report)))


def test_cloudtrail_remote_aws_columns(tmp_path: Path) -> None:
    events = _batch(_write(tmp_path, _records()))
    out = enrich(events, "cloudtrail", Intel.with_builtin_feeds())
    assert out.select(AWS_COLS).schema == dict.fromkeys(AWS_COLS, pl.String())
    seen = {row[0]: row[1:] for row in out.select("source_ip", *AWS_COLS).unique().iter_rows()}
    assert seen == {
        "52.42.146.205": ("52.40.0.0/14", "us-west-2", "EC2"),
        "52.216.10.20": ("52.216.0.0/15", "us-east-1", "S3"),
        "2600:1f18:4000::17": ("2600:1f18::/33", "us-east-1", "EC2"),
        "45.33.32.156": (None, None, None),
        "10.0.1.50": (None, None, None),
        "AWS Internal": (None, None, None),
        "cloudformation.amazonaws.com": (None, None, None),
    }


def test_one_parse_gives_the_unshared_result(tmp_path: Path) -> None:
    """The shared address table changes nothing against parsing per lookup."""
    records = _records()
    events = _batch(_write(tmp_path, [*records, {**records[0], "sourceIPAddress": None}, *records]))
    intel = Intel.with_builtin_feeds(
        threat=[IntelList.from_entries("bad", ["45.33.32.0/24"])],
        trusted=[IntelList.from_entries("ours", ["52.42.146.205"], kind="trusted")],
    )
    remote = cloudtrail_remote(events)
    want = remote.hstack(
        [
            *intel.lookup(remote["remote_ip"], kind="ip", prefix="remote").get_columns(),
            *intel.aws_lookup(remote["remote_ip"], prefix="remote").get_columns(),
        ]
    )
    out = enrich(events, "cloudtrail", intel)
    assert_frame_equal(out.drop("remote_country", "remote_asn", "remote_lat", "remote_lon"), want)
    countries = out.filter(~pl.col("remote_ip").str.starts_with("10.")).select("remote_ip", "remote_country")
    assert countries.height > 0
    assert countries.filter(pl.col("remote_country").is_null()).height == 0
    assert out["remote_custom_list"].drop_nulls().unique().to_list() == ["bad"]
    assert out.filter(pl.col("remote_trusted"))["remote_aws_service"].unique().to_list() == ["EC2"]
    assert out.filter(pl.col("source_ip").is_null())["remote_ip"].to_list() == [None]


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("vpc_flow", "panther-analysis/test-scenarios/compromised-root-creds/attacker_vpc.vpc_flow.log"),
        ("dns", "aws-docs-examples/route53_resolver_query_log_example.json"),
    ],
)
def test_not_on_flows_or_dns(source: SourceName, path: str) -> None:
    out = enrich(_batch(DATASETS / path, source), source, Intel.with_builtin_feeds())
    assert "remote_ip" in out.columns or "domain" in out.columns
    assert not [c for c in out.columns if c.startswith("remote_aws_")]


def _ranges_file(tmp_path: Path, prefix: str) -> Path:
    path = tmp_path / "ranges" / "ip-ranges.json"
    path.parent.mkdir(exist_ok=True)
    doc = {
        "syncToken": "42",
        "createDate": "2026-11-01-00-00-00",
        "prefixes": [
            {"ip_prefix": prefix, "region": "eu-north-1", "service": "EC2", "network_border_group": "x"}
        ],
        "ipv6_prefixes": [],
    }
    path.write_text(json.dumps(doc))
    return path


def test_config_names_an_operator_file(tmp_path: Path) -> None:
    _ranges_file(tmp_path, "45.33.32.0/24")
    cfg = tmp_path / "keibi.toml"
    cfg.write_text('[intel]\naws_ip_ranges = "ranges/ip-ranges.json"\n')
    assert load_config(cfg, environ={}).intel.aws_ip_ranges == str(tmp_path / "ranges/ip-ranges.json")
    cfg.write_text("[intel]\n")
    assert load_config(cfg, environ={}).intel.aws_ip_ranges is None
    cfg.write_text("[intel]\naws_ip_ranges = 5\n")
    with pytest.raises(ConfigError, match=r"intel\.aws_ip_ranges"):
        load_config(cfg, environ={})


def test_scan_uses_the_configured_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``keibi scan`` builds its Intel from ``[intel] aws_ip_ranges``; a broken file stops it."""
    ranges = _ranges_file(tmp_path, "45.33.32.0/24")
    events = _write(tmp_path, _records())
    cfg = tmp_path / "keibi.toml"
    cfg.write_text('[intel]\naws_ip_ranges = "ranges/ip-ranges.json"\n')
    monkeypatch.setenv("KEIBI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KEIBI_DATABASE_URL", raising=False)
    monkeypatch.delenv("KEIBI_CONFIG", raising=False)
    used: list[Intel] = []
    real_scan = keibi.pipeline.scan

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append(kwargs["intel"])
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(keibi.pipeline, "scan", spy)
    runner = CliRunner()
    result = runner.invoke(
        app, ["scan", str(events), "--config", str(cfg), "--format", "json", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert [i.aws_ranges.source if i.aws_ranges else None for i in used] == [str(ranges)]
    looked = used[0].aws_lookup(pl.Series(["45.33.32.156", "52.42.146.205"]), prefix="remote")
    assert looked["remote_aws_region"].to_list() == ["eu-north-1", None]

    ranges.write_text('{"syncToken": "42"}')
    result = runner.invoke(app, ["scan", str(events), "--config", str(cfg), "--no-progress"])
    assert result.exit_code == 1
    assert str(ranges) in result.output


def test_scan_helper_takes_an_operator_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ranges = _ranges_file(tmp_path, "45.33.32.0/24")
    events = _write(tmp_path, _records())
    used: list[Intel] = []
    real_scan = tests.helpers.scan

    def spy(*args: Any, **kwargs: Any) -> Any:
        used.append(kwargs["intel"])
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(tests.helpers, "scan", spy)
    scan_result([events], aws_ip_ranges=ranges)
    scan_result([events])
    assert [i.aws_ranges.source if i.aws_ranges else None for i in used] == [
        str(ranges),
        builtin_aws_ranges().source,
    ]
    ranges.write_text("[]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        scan_result([events], aws_ip_ranges=ranges)
