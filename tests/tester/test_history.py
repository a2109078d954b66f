"""A month of history for behaviour baselines: deterministic, AWS's layouts, dozens of entities,
benign patterns where the module says they are, and a scenario per behaviour finding type."""

from __future__ import annotations

import gzip
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import iptocc
import orjson
import polars as pl
import pytest
from typer.testing import CliRunner

from keibi.cli import app
from keibi.tester import HistoryManifest, generate_history
from keibi.tester.history import MANIFEST_FILE
from keibi.tester.history_benign import NEW_SERVICE_DAY
from keibi.tester.history_scenarios import BEHAVIOR_TYPES
from keibi.tester.history_world import CI_NETS, HOME_NETS, OFFICE_NETS, START, build_history_world

SEED = 7
DAYS = 30
STAMP = r"\d{8}T\d{4}Z"
CLOUDTRAIL = re.compile(
    rf"AWSLogs/(\d{{12}})/CloudTrail/(eu-west-2|us-east-1)/\d{{4}}/\d\d/\d\d/\1_CloudTrail_\2_{STAMP}_[A-Za-z0-9]{{16}}\.json\.gz"
)
FLOWS = re.compile(
    rf"AWSLogs/(\d{{12}})/vpcflowlogs/eu-west-2/\d{{4}}/\d\d/\d\d/\1_vpcflowlogs_eu-west-2_fl-[0-9a-f]{{17}}_{STAMP}_[0-9a-f]{{8}}\.log\.gz"
)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, HistoryManifest]:
    root = tmp_path_factory.mktemp("history")
    return root, generate_history(root, seed=SEED, days=DAYS, delivery_minutes=60)


@pytest.fixture(scope="module")
def trail(out: tuple[Path, HistoryManifest]) -> list[dict[str, Any]]:
    root, _ = out
    records: list[dict[str, Any]] = []
    for path in sorted(root.rglob("*_CloudTrail_*.json.gz")):
        records += orjson.loads(gzip.decompress(path.read_bytes()))["Records"]
    return records


@pytest.fixture(scope="module")
def flows(out: tuple[Path, HistoryManifest]) -> pl.DataFrame:
    root, _ = out
    frames = [
        pl.read_csv(gzip.decompress(p.read_bytes()), separator=" ", infer_schema=False, null_values="-")
        for p in sorted(root.rglob("*_vpcflowlogs_*.log.gz"))
    ]
    return pl.concat(frames).with_columns(pl.col("start", "end", "bytes").cast(pl.Int64))


def _files(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in (root / "AWSLogs").rglob("*.gz"))


def test_same_seed_same_bytes(out: tuple[Path, HistoryManifest], tmp_path: Path) -> None:
    root, manifest = out
    again = generate_history(tmp_path, seed=SEED, days=DAYS, delivery_minutes=60)
    assert _files(tmp_path) == _files(root)
    for rel in _files(root):
        assert (tmp_path / rel).read_bytes() == (root / rel).read_bytes(), rel
    assert (tmp_path / MANIFEST_FILE).read_bytes() == (root / MANIFEST_FILE).read_bytes()
    assert again == manifest
    other = build_history_world(random.Random(SEED + 1))
    assert other.account_id != manifest.account_id


def test_a_month_in_aws_layouts(
    out: tuple[Path, HistoryManifest], trail: list[dict[str, Any]], flows: pl.DataFrame
) -> None:
    root, manifest = out
    files = _files(root)
    assert all(CLOUDTRAIL.fullmatch(f) or FLOWS.fullmatch(f) for f in files), [
        f for f in files if not (CLOUDTRAIL.fullmatch(f) or FLOWS.fullmatch(f))
    ][:3]
    assert sum(manifest.files.values()) == len(files)
    assert manifest.days >= 30
    days = {r["eventTime"][:10] for r in trail}
    flow_days = set(flows.select(pl.from_epoch("start").dt.strftime("%Y-%m-%d")).to_series())
    assert len(days) >= 30 and len(flow_days) >= 30
    assert min(days) == START.strftime("%Y-%m-%d")
    assert manifest.records == {"cloudtrail": len(trail), "vpc_flow": flows.height}
    assert len(trail) <= 400_000 and flows.height <= 600_000  # small enough to scan in a test
    assert {r["eventCategory"] for r in trail} == {"Management", "Data"}
    assert flows.columns[:4] == ["version", "vpc-id", "subnet-id", "instance-id"]


def test_dozens_of_principals_instances_and_buckets(
    out: tuple[Path, HistoryManifest], trail: list[dict[str, Any]], flows: pl.DataFrame
) -> None:
    _, manifest = out
    principals = {
        r["userIdentity"]["principalId"]
        for r in trail
        if r["userIdentity"]["type"] in ("IAMUser", "AssumedRole")
    }
    instances = set(flows["instance-id"].drop_nulls())
    buckets = {r["requestParameters"]["bucketName"] for r in trail if r["eventCategory"] == "Data"}
    assert len(principals) >= 30 and manifest.entities["principals"] == len(principals)
    assert len(instances) >= 24 and manifest.entities["instances"] == len(instances)
    assert len(buckets) >= 5 and manifest.entities["buckets"] == len(buckets)
    assert {r["userIdentity"].get("invokedBy") for r in trail} >= {
        "cloudformation.amazonaws.com",
        "autoscaling.amazonaws.com",
        "config.amazonaws.com",
    }


def test_networks_are_where_the_world_says() -> None:
    """Offices and homes in GB, the CI provider in the US: the country a scan will give them."""
    for net in (*OFFICE_NETS.values(), *HOME_NETS):
        assert iptocc.country_code(f"{net}.10.10") == "GB", net
    for net in CI_NETS:
        assert iptocc.country_code(f"{net}.10.10") == "US", net


def _day(record: dict[str, Any]) -> int:
    t = datetime.strptime(record["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (t - START).days


def test_the_benign_month_has_its_patterns(
    out: tuple[Path, HistoryManifest], trail: list[dict[str, Any]], flows: pl.DataFrame
) -> None:
    _, manifest = out
    world = build_history_world(random.Random(SEED))
    first: dict[str, int] = {}
    for r in trail:
        if "ci-deployer" in r["userIdentity"].get("arn", ""):
            first.setdefault(r["eventName"], _day(r))
            first[r["eventName"]] = min(first[r["eventName"]], _day(r))
    assert first["CreateStateMachine"] == NEW_SERVICE_DAY and first["DescribeVpcs"] == 0
    joiner = [
        _day(r) for r in trail if r["userIdentity"].get("principalId", "").endswith(":ruby.clark@acme.co.uk")
    ]
    assert min(joiner) == 18
    export = {_day(r) for r in trail if "monthly-export" in r["userIdentity"].get("arn", "")}
    assert export == {0, 28}
    shared = {
        _day(r)
        for r in trail
        if r["eventName"] == "ModifySnapshotAttribute" and "dr-snapshots" in r["userIdentity"].get("arn", "")
    }
    assert shared == {0, 28}
    # web servers: evening traffic well above the small hours (London time)
    web = [i.instance_id for i in world.instances if i.tier == "web"]
    hourly = (
        flows.filter(pl.col("instance-id").is_in(web), pl.col("dstport") == "8080")
        .group_by(((pl.col("start") // 3600) % 24).alias("hour"))
        .len()
    )
    by_hour = dict(zip(hourly["hour"].to_list(), hourly["len"].to_list(), strict=True))
    assert by_hour[19] > 4 * by_hour[3]
    # replaced instances: three slots had two generations
    assert manifest.entities["instances"] - manifest.entities["instance_slots"] == 3
    # the mail relay talks SMTP to many hosts, every day
    relay = world.slot("mail-relay", 0).instance_id
    smtp = flows.filter(pl.col("instance-id") == relay, pl.col("dstport") == "25")
    assert smtp["dstaddr"].n_unique() > 300


def test_a_scenario_for_every_behaviour_type_after_the_learning(out: tuple[Path, HistoryManifest]) -> None:
    root, manifest = out
    assert manifest.finding_types() == BEHAVIOR_TYPES
    assert len({s.name for s in manifest.scenarios}) == len(manifest.scenarios)
    on_disk = orjson.loads((root / MANIFEST_FILE).read_bytes())
    assert {s["finding_type"] for s in on_disk["scenarios"]} == BEHAVIOR_TYPES
    for s in (*manifest.scenarios, *manifest.twins):
        assert s.records > 0 and s.files, s.name
        assert s.resource_id and s.resource_type in ("AccessKey", "S3Bucket", "Instance"), s.name
    for s in manifest.scenarios:
        days = {re.search(r"/(\d{4}/\d\d/\d\d)/", f).group(1) for f in s.files}  # type: ignore[union-attr]
        assert min(days) >= "2026/10/23", s.name  # day 22 or later
    assert len(manifest.twins) >= 10


def test_cli(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["tester", "history", "--help"])
    assert result.exit_code == 0 and "--days" in result.output
    result = runner.invoke(app, ["tester", "history", str(tmp_path), "--days", "10"])
    assert result.exit_code != 0
