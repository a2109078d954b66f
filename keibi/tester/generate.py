"""``generate``: write two hours of an account's logs, attacks and background, in AWS's layouts."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import polars as pl

from keibi.errors import ConfigError
from keibi.tester import background as bg
from keibi.tester.cloudtrail import Trail
from keibi.tester.dnslogs import QUERY_SCHEMA, write_dns_logs
from keibi.tester.flowlogs import V2_FIELDS, V5_FIELDS, idle_records, records, write_flow_logs
from keibi.tester.lists import write_lists
from keibi.tester.manifest import Background, Manifest
from keibi.tester.run import Run
from keibi.tester.scenarios import SCENARIOS
from keibi.tester.vec import Vec
from keibi.tester.world import World, build_world

DEFAULT_START: Final = datetime(2026, 11, 1, tzinfo=UTC)
DURATION: Final = 2 * 3600
FLOW_WINDOW: Final = 600
MANIFEST_FILE: Final = "manifest.json"
IDLE_TAG: Final = "background:idle-interfaces"


def _owner(tag: str) -> str:
    """``scenario:portscan/extra`` → ``scenario:portscan``: sub-tags count toward their parent."""
    return tag.split("/", 1)[0]


def write_flows(outdir: Path, run: Run, level: int) -> tuple[dict[str, set[str]], Counter[str]]:
    """Turn the recorded sessions into records (plus NODATA for idle windows) and deliver them."""
    w = run.world
    recs = records(pl.concat(run.flows, how="vertical"), w.account_id, w.vpc_id)
    vpc_log = w.flow_log_ids["vpc"]
    enis = [
        (vpc_log, h.eni, h.instance_id, h.subnet) for h in w.hosts.values() if run.flow_log_of(h) == vpc_log
    ]
    idle = idle_records(
        enis,
        recs.filter(pl.col("flow_log") == vpc_log),
        run.start,
        run.end,
        FLOW_WINDOW,
        w.account_id,
        w.vpc_id,
    )
    frame = pl.concat([recs, idle], how="diagonal_relaxed")
    formats = {vpc_log: (V2_FIELDS, 2), w.flow_log_ids["bastion"]: (V5_FIELDS, 5)}
    files = write_flow_logs(
        outdir, frame, account=w.account_id, region=w.region, formats=formats, suffix=run.vec, level=level
    )
    return files, _tag_counts(frame)


def write_dns(outdir: Path, run: Run, level: int) -> tuple[dict[str, set[str]], Counter[str]]:
    w = run.world
    frame = pl.concat(run.dns, how="vertical") if run.dns else pl.DataFrame(schema=QUERY_SCHEMA)
    files = write_dns_logs(
        outdir, frame, account=w.account_id, region=w.region, vpc_id=w.vpc_id, suffix=run.vec, level=level
    )
    return files, _tag_counts(frame)


def _tag_counts(frame: pl.DataFrame) -> Counter[str]:
    counts = frame.group_by("tag").len()
    return Counter(dict(zip(counts["tag"].to_list(), counts["len"].to_list(), strict=True)))


def new_run(seed: int, start: datetime, scale: float, duration: int = DURATION) -> Run:
    """A fresh recorder: the estate for ``seed`` and empty logs from ``start``."""
    if not scale > 0:
        raise ConfigError(f"scale must be positive, got {scale!r}", None, "scale")
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    rng = random.Random(seed)
    world: World = build_world(rng)
    t0 = int(start.timestamp())
    return Run(world, rng, Vec(seed), t0, t0 + duration, scale, Trail(world))


def generate(
    outdir: Path, *, seed: int = 7, start: datetime = DEFAULT_START, scale: float = 1.0, level: int = 5
) -> Manifest:
    """Write every attack scenario plus benign background under ``outdir``; same seed, same bytes.

    ``outdir`` gets ``AWSLogs/...`` (CloudTrail, VPC flow, Resolver query logs), the
    ``lists/threat.txt`` and ``lists/trusted.txt`` and the feeds (``lists/tor-exits.txt``,
    ``lists/malicious-ips.txt``) the scenarios rely on, and ``manifest.json``. ``scale`` multiplies the background volume (1.0 is ~100k records).

    >>> manifest = generate(Path("/tmp/keibi-demo"), seed=7)
    >>> sorted(manifest.finding_types())[0]
    'CryptoCurrency:EC2/BitcoinTool.B!DNS'
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    run = new_run(seed, start, scale)
    planned = [make(run) for make in SCENARIOS]
    backgrounds = [make(run) for make in bg.ALL]
    threat, trusted, feeds = write_lists(outdir, run.world)

    ct_files = run.trail.write(outdir, level=level)
    ct_counts = Counter(e[2] for e in run.trail.events)
    flow_files, flow_counts = write_flows(outdir, run, level)
    dns_files, dns_counts = write_dns(outdir, run, level)

    files: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    for source_files, source_counts in (
        (ct_files, ct_counts),
        (flow_files, flow_counts),
        (dns_files, dns_counts),
    ):
        for tag, paths in source_files.items():
            files.setdefault(_owner(tag), set()).update(paths)
        for tag, n in source_counts.items():
            counts[_owner(tag)] += n

    scenarios = tuple(
        replace(s, files=tuple(sorted(files[f"scenario:{s.name}"])), records=counts[f"scenario:{s.name}"])
        for s in planned
    )
    backgrounds.append(
        Background("idle-interfaces", "vpc_flow", "NODATA records for idle interfaces and windows")
    )
    background = tuple(
        replace(b, records=counts[f"background:{b.name}"], files=len(files.get(f"background:{b.name}", ())))
        for b in backgrounds
    )
    written = sorted(
        p.relative_to(outdir).as_posix() for p in (outdir / "AWSLogs" / run.world.account_id).rglob("*.gz")
    )
    manifest = Manifest(
        seed=seed,
        scale=scale,
        start=datetime.fromtimestamp(run.start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        end=datetime.fromtimestamp(run.end, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        account_id=run.world.account_id,
        regions=(run.world.region, run.world.other_region),
        vpc_id=run.world.vpc_id,
        threat_list=threat,
        trusted_list=trusted,
        scenarios=scenarios,
        background=background,
        records={"cloudtrail": ct_counts.total(), "vpc_flow": flow_counts.total(), "dns": dns_counts.total()},
        files=tuple(written),
        feeds=feeds,
    )
    (outdir / MANIFEST_FILE).write_bytes(manifest.to_json())
    return manifest
