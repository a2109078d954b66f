"""The state one generation shares: the estate, the random streams and what was recorded."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import polars as pl

from keibi.tester.cloudtrail import Trail
from keibi.tester.dnslogs import queries
from keibi.tester.flowlogs import sessions
from keibi.tester.vec import Vec
from keibi.tester.world import Host, World


@dataclass
class Run:
    """Recorder for one ``generate`` call; scenarios and background append to it."""

    world: World
    rng: random.Random
    vec: Vec
    start: int
    end: int
    scale: float
    trail: Trail
    flows: list[pl.DataFrame] = field(default_factory=list)
    dns: list[pl.DataFrame] = field(default_factory=list)

    def flow_log_of(self, host: Host) -> str:
        """The bastion has its own (custom v5) flow log; everything else is in the VPC one."""
        return self.world.flow_log_ids["bastion" if host.name == "bastion" else "vpc"]

    def sessions(self, host: Host, side: str, **columns: object) -> None:
        """Record sessions seen on ``host``'s interface (``side``: client or server)."""
        self.flows.append(
            sessions(
                flow_log=self.flow_log_of(host),
                eni=host.eni,
                instance_id=host.instance_id,
                subnet_id=host.subnet,
                side=side,
                **columns,
            )
        )

    def queries(self, host: Host, **columns: object) -> None:
        """Record Resolver queries made by ``host``."""
        columns.setdefault("transport", "UDP")
        self.dns.append(queries(srcaddr=host.ip, instance_id=host.instance_id, **columns))

    def ephemeral(self, n: int) -> pl.Series:
        return self.vec.integers(32768, 61000, n)

    def times(self, n: int, start: int, length: int) -> pl.Series:
        """``n`` sorted event times in ``[start, start + length)``."""
        return self.vec.integers(start, start + max(length, 1), n).sort()
