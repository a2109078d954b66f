"""``generate_history``: a month of an account's logs for behaviour baselines, with anomalies at the end.

Thirty days (by default) of CloudTrail (management and S3 data events) and VPC flow logs (v5,
with ``instance-id``) of a London company's account, in AWS's delivery layouts: dozens of
principals and instances and several buckets doing what they always do
(``history_benign``, ``history_flows``), then after day 21 one attack per behaviour finding type
(``history_scenarios``), each tagged with the type and resource it should raise, and the
look-alikes inside the baseline that must raise nothing. ``manifest.json`` says which is which.

Volume is set for a test that generates and scans in under a minute on two cores: about
250k CloudTrail records and 400k flow records for 30 days.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson
import polars as pl

from keibi.errors import ConfigError
from keibi.tester.flowlogs import V5_FIELDS, write_flow_logs
from keibi.tester.flowlogs import records as flow_records
from keibi.tester.history_benign import CLOUDTRAIL
from keibi.tester.history_flows import FLOW
from keibi.tester.history_run import DAY, History
from keibi.tester.history_scenarios import SCENARIOS, twins
from keibi.tester.history_trail import records, write_trail
from keibi.tester.history_world import BUCKETS, GLOBAL_REGION, HOME_REGION, START, build_history_world
from keibi.tester.manifest import Background, HistoryManifest, Scenario
from keibi.tester.vec import Vec

MANIFEST_FILE: Final = "manifest.json"
MIN_DAYS: Final = 29
"""The scenarios run on days 22 to 28 and the four-weekly jobs again on day 28."""
TWIN_TAGS: Final = {
    "onboarding-policies": "twin:onboarding",
    "ci-preview-teardown": "benign:ci",
    "on-call-nights": "benign:on-call",
    "on-call-nights-sso": "benign:on-call",
    "security-audit": "benign:employees",
    "backup-prune": "benign:jobs",
    "ci-public-assets": "benign:ci",
    "partner-sftp": "benign:services",
}


def _owner(tag: str) -> str:
    return tag.split("/", 1)[0]


def generate_history(
    outdir: Path,
    *,
    seed: int = 7,
    days: int = 30,
    start: datetime = START,
    delivery_minutes: int = 5,
    level: int = 1,
) -> HistoryManifest:
    """Write ``days`` days of benign activity and the anomaly scenarios under ``outdir``; same seed, same bytes.

    ``delivery_minutes``: how much time one log file covers. CloudTrail and flow logs deliver
    about every five minutes; a scan pays per file, so tests that only need the records may
    ask for hourly files (the same records, a twelfth of the files).

    >>> manifest = generate_history(Path("/tmp/keibi-history"), seed=7)
    >>> manifest.entities["principals"] >= 30
    True
    """
    if days < MIN_DAYS:
        raise ConfigError(f"days must be at least {MIN_DAYS}, got {days!r}", None, "days")
    if not 1 <= delivery_minutes <= 60:
        raise ConfigError(
            f"delivery_minutes must be 1 to 60, got {delivery_minutes!r}", None, "delivery_minutes"
        )
    delivery = delivery_minutes * 60
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    world = build_history_world(rng)
    h = History(world, rng, Vec(seed), int(start.timestamp()) // DAY * DAY, days)
    backgrounds: list[Background] = [make(h) for make in CLOUDTRAIL]
    backgrounds += [make(h) for make in FLOW]
    planned: list[Scenario] = [s for make in SCENARIOS for s in make(h)]
    look_alikes = twins(h)

    trail = records(h.vec, pl.concat(h.calls, how="vertical"), h.identities, world, HOME_REGION)
    ct_files = write_trail(outdir, trail, account=world.account_id, vec=h.vec, level=level, delivery=delivery)
    ct_counts = _counts(trail)
    flows = flow_records(pl.concat(h.flows, how="vertical"), world.account_id, world.vpc_id)
    flow_files = write_flow_logs(
        outdir,
        flows,
        account=world.account_id,
        region=HOME_REGION,
        formats={world.flow_log_id: (V5_FIELDS, 5)},
        suffix=h.vec,
        level=level,
        delivery=delivery,
    )
    flow_counts = _counts(flows)

    files: dict[str, set[str]] = {}
    for tag, paths in (*ct_files.items(), *flow_files.items()):
        files.setdefault(_owner(tag), set()).update(paths)
    counts = ct_counts + flow_counts

    def filled(s: Scenario, tag: str) -> Scenario:
        return replace(s, files=tuple(sorted(files.get(tag, ()))), records=counts[tag])

    scenarios = tuple(filled(s, f"scenario:{s.name}") for s in planned)
    twin_list = tuple(filled(s, TWIN_TAGS.get(s.name, f"twin:{s.name}")) for s in look_alikes)
    background = tuple(
        replace(b, records=counts[f"benign:{b.name}"], files=len(files.get(f"benign:{b.name}", ())))
        for b in backgrounds
    )
    written = {
        "cloudtrail": len({p for tag, ps in ct_files.items() for p in ps}),
        "vpc_flow": len({p for tag, ps in flow_files.items() for p in ps}),
    }
    manifest = HistoryManifest(
        seed=seed,
        start=datetime.fromtimestamp(h.start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end=datetime.fromtimestamp(h.end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        days=days,
        account_id=world.account_id,
        regions=(HOME_REGION, GLOBAL_REGION),
        vpc_id=world.vpc_id,
        scenarios=scenarios,
        twins=twin_list,
        background=background,
        entities=_entities(h, trail),
        records={"cloudtrail": trail.height, "vpc_flow": flows.height},
        files=written,
    )
    (outdir / MANIFEST_FILE).write_bytes(manifest.to_json())
    return manifest


def _counts(frame: pl.DataFrame) -> Counter[str]:
    grouped = frame.group_by(pl.col("tag").str.split("/").list.first().alias("owner")).len()
    return Counter(dict(zip(grouped["owner"].to_list(), grouped["len"].to_list(), strict=True)))


def _entities(h: History, trail: pl.DataFrame) -> dict[str, int]:
    """What the baselines learn: distinct principals (IAM users and role sessions), people,
    instances (every generation), buckets, and the AWS services acting in the account."""
    kinds = [orjson.loads(t) for t in h.identities.values()]
    principals = {k["principalId"] for k in kinds if k.get("type") in ("IAMUser", "AssumedRole")}
    services = {k["invokedBy"] for k in kinds if k.get("invokedBy")}
    buckets = set(
        trail.select(pl.col("json").str.extract(r'"bucketName":"([^"]+)"'))
        .to_series()
        .drop_nulls()
        .unique()
        .to_list()
    )
    return {
        "principals": len(principals),
        "people": len(h.world.people),
        "instances": len(h.world.instances),
        "instance_slots": len({i.slot for i in h.world.instances}),
        "buckets": len(buckets & set(BUCKETS)),
        "aws_services": len(services),
    }
