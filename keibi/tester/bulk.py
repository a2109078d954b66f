"""Background volume only, by the million, for benchmarks.

The same generators as ``generate``'s background, run hour by hour (each hour with its own
random stream, so event ids never repeat) until the asked number of records is written.
Only the vectorised generators are used for flow and DNS, so ten million flow records take
about a minute on two cores.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final, Literal

from keibi.tester import background as bg
from keibi.tester.generate import DEFAULT_START, new_run, write_dns, write_flows
from keibi.tester.lists import write_lists
from keibi.tester.manifest import Background
from keibi.tester.run import Run
from keibi.tester.vec import Vec

BulkSource = Literal["cloudtrail", "vpc_flow", "dns"]
HOUR: Final = 3600

# generators per source and the scale that gives roughly this many records per hour
_PLAN: Final[dict[BulkSource, tuple[Sequence[Callable[[Run], Background]], float, int]]] = {
    "cloudtrail": (
        (bg.ci_role, bg.aws_services, bg.instance_roles, bg.s3_data_events, bg.console_users),
        4.0,
        100_000,
    ),
    "vpc_flow": ((bg.web_clients, bg.health_checks, bg.monitoring, bg.outbound_https), 30.0, 1_400_000),
    "dns": ((bg.resolver_queries,), 10.0, 240_000),
}


def write_bulk(
    outdir: Path,
    source: BulkSource,
    records: int,
    *,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    level: int = 1,
) -> int:
    """Write at least ``records`` background records of ``source`` under ``outdir``; return how many.

    Also writes ``lists/threat.txt`` and ``lists/trusted.txt`` (so a scan pays for matching).
    """
    makers, scale, per_hour = _PLAN[source]
    written = 0
    hour = 0
    while written < records:
        remaining = records - written
        run = new_run(
            seed, start + timedelta(hours=hour), scale * min(1.0, remaining / per_hour), duration=HOUR
        )
        run.rng.seed(seed * 1_000_003 + hour)
        run.vec = Vec(seed * 1_000_003 + hour)
        if hour == 0:
            write_lists(outdir, run.world)
        for make in makers:
            make(run)
        if source == "cloudtrail":
            run.trail.write(outdir, level=level)
            written += len(run.trail.events)
        elif source == "vpc_flow":
            _, counts = write_flows(outdir, run, level)
            written += counts.total()
        else:
            _, counts = write_dns(outdir, run, level)
            written += counts.total()
        hour += 1
    return written
