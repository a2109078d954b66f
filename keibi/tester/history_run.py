"""The state one month of history shares: the estate, the clock, the random streams, the logs.

Activity is described coarsely, in Python, per session (a person's morning at the console, a
CI run, an hour of an instance's traffic: a few thousand rows for a month) and expanded
column-wise into records: ``api_sessions`` picks each call from the session's pool of APIs,
``s3_sessions`` its S3 operation and object, ``flow_plan`` its connections.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

import polars as pl

from keibi.tester.flowlogs import SYN_FIN, SYNACK_FIN, sessions
from keibi.tester.history_trail import CALL_SCHEMA, calls, s3_data
from keibi.tester.history_world import HOME_REGION, HistoryWorld, Instance
from keibi.tester.vec import Vec

DAY: Final = 86_400
HOUR: Final = 3_600
BST_ENDS: Final = int(datetime(2026, 10, 25, 1, tzinfo=UTC).timestamp())
"""London leaves summer time: before this instant local time is UTC+1."""


@dataclass(frozen=True, slots=True)
class Api:
    """One entry of a session's pool: an API, its request parameters (JSON text) and weight."""

    source: str
    name: str
    request: str | None = None
    weight: int = 1

    @property
    def read_only(self) -> bool:
        return self.name.startswith(
            (
                "Describe",
                "List",
                "Get",
                "Head",
                "Lookup",
                "Search",
                "Filter",
                "BatchGet",
                "Decrypt",
                "GenerateDataKey",
            )
        )


@dataclass(frozen=True, slots=True)
class S3Op:
    """One entry of an S3 pool: ``name`` on ``bucket``, objects ``prefix<n>suffix`` for ``n`` in
    ``range(keys)`` (``ListObjects`` lists ``prefix``), ``size`` bytes drawn in the range."""

    name: str
    bucket: str
    prefix: str
    suffix: str = ""
    keys: int = 1000
    size: tuple[int, int] = (10_000, 2_000_000)
    weight: int = 1


@dataclass
class History:
    """Recorder for one ``generate_history`` call."""

    world: HistoryWorld
    rng: random.Random
    vec: Vec
    start: int
    days: int
    identities: dict[str, str] = field(default_factory=dict)
    calls: list[pl.DataFrame] = field(default_factory=list)
    flows: list[pl.DataFrame] = field(default_factory=list)

    @property
    def end(self) -> int:
        return self.start + self.days * DAY

    def day(self, d: int) -> int:
        return self.start + d * DAY

    def local(self, d: int, hour: float) -> int:
        """UTC epoch of ``hour`` (London time, fractions allowed) on day ``d``."""
        t = self.day(d) + int(hour * HOUR)
        return t - HOUR if t - HOUR < BST_ENDS else t

    def weekday(self, d: int) -> int:
        """0 Monday … 6 Sunday."""
        return (datetime.fromtimestamp(self.day(d), UTC) + timedelta(hours=12)).weekday()

    def workday(self, d: int) -> bool:
        return self.weekday(d) < 5

    def who(self, key: str, template: str) -> str:
        """Register an identity template under ``key`` (see ``history_trail.records``)."""
        self.identities.setdefault(key, template)
        return key

    def add(self, frame: pl.DataFrame) -> None:
        self.calls.append(frame.select(list(CALL_SCHEMA)))

    def running(self, tier: str, d: int) -> list[Instance]:
        return [i for i in self.world.tier(tier) if i.first_day <= d < i.last_day]


SESSION_COLUMNS: Final = pl.Schema(
    {
        "who": pl.String(),
        "key": pl.String(),
        "since": pl.Int64(),
        "ip": pl.String(),
        "ua": pl.String(),
        "region": pl.String(),
        "pool": pl.String(),
        "start": pl.Int64(),
        "length": pl.Int64(),
        "n": pl.Int64(),
        "tag": pl.String(),
        "vpce": pl.String(),
    }
)


def session_frame(rows: Sequence[Mapping[str, object]]) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in SESSION_COLUMNS} for r in rows], schema=SESSION_COLUMNS)


def _explode(h: History, sessions_: pl.DataFrame) -> pl.DataFrame:
    s = sessions_.filter(pl.col("n") > 0).with_columns(pl.int_ranges(0, "n").alias("_i")).explode("_i")
    n = s.height
    return s.with_columns(
        (pl.col("start") + (h.vec.random(n) * pl.col("length")).cast(pl.Int64)).alias("t"),
        h.vec.random(n).alias("_u"),
    )


def _pick(exploded: pl.DataFrame, pool: pl.DataFrame) -> pl.DataFrame:
    sizes = pool.group_by("pool").agg(pl.len().alias("_len"))
    return (
        exploded.join(sizes, on="pool", how="inner")
        .with_columns((pl.col("_u") * pl.col("_len")).cast(pl.Int64).alias("idx"))
        .join(pool, on=["pool", "idx"], how="inner")
    )


def _pool_frame(pools: Mapping[str, Sequence[Api | S3Op]], columns: Sequence[str]) -> pl.DataFrame:
    rows = []
    for name, entries in pools.items():
        expanded = [entry for entry in entries for _ in range(entry.weight)]
        rows += [{"pool": name, "idx": i, **_entry(entry)} for i, entry in enumerate(expanded)]
    return pl.DataFrame(rows).select("pool", pl.col("idx").cast(pl.Int64), *columns)


def _entry(entry: Api | S3Op) -> dict[str, object]:
    if isinstance(entry, Api):
        return {
            "source": entry.source,
            "name": entry.name,
            "request": entry.request,
            "read_only": entry.read_only,
        }
    return {
        "name": entry.name,
        "bucket": entry.bucket,
        "prefix": entry.prefix,
        "suffix": entry.suffix,
        "keys": entry.keys,
        "size_lo": entry.size[0],
        "size_hi": entry.size[1],
    }


def api_sessions(h: History, sessions_: pl.DataFrame, pools: Mapping[str, Sequence[Api]]) -> None:
    """Record ``n`` calls per session, spread over ``[start, start + length)``, each drawn from
    the session's ``pool`` (entries repeated ``weight`` times)."""
    pool = _pool_frame(pools, ["source", "name", "request", "read_only"])
    picked = _pick(_explode(h, sessions_), pool)
    h.add(
        picked.with_columns(
            pl.lit(None, pl.String).alias(c) for c in CALL_SCHEMA if c not in picked.columns
        ).cast(CALL_SCHEMA)
    )


def s3_sessions(h: History, sessions_: pl.DataFrame, pools: Mapping[str, Sequence[S3Op]]) -> None:
    """Record ``n`` S3 data events per session, each an operation of the session's ``pool``."""
    pool = _pool_frame(pools, ["name", "bucket", "prefix", "suffix", "keys", "size_lo", "size_hi"])
    picked = _pick(_explode(h, sessions_), pool)
    n = picked.height
    picked = picked.with_columns(
        (h.vec.random(n) * pl.col("keys")).cast(pl.Int64).alias("_k"),
        (pl.col("size_lo") + h.vec.random(n) * (pl.col("size_hi") - pl.col("size_lo")))
        .cast(pl.Int64)
        .alias("size"),
    ).with_columns(
        pl.when(pl.col("name") == "ListObjects")
        .then(None)
        .otherwise(pl.concat_str("prefix", pl.col("_k").cast(pl.String).str.zfill(5), "suffix"))
        .alias("object"),
    )
    h.add(s3_data(h.vec, picked, HOME_REGION, h.world.account_id))


def objects(
    h: History,
    t: pl.Series | Sequence[int],
    who: str,
    name: str,
    bucket: str,
    keys: Sequence[str | None],
    *,
    columns: Mapping[str, object],
    prefix: str = "",
    size: int | Sequence[int] = 0,
) -> None:
    """Record one S3 data event per key (a ``None`` key: ``ListObjects`` of ``prefix``);
    ``columns`` are further call columns (``key``, ``ip``, ``ua``, ``tag``…)."""
    base = calls(t=list(t) if not isinstance(t, pl.Series) else t, who=who, name=name, **columns)
    frame = base.with_columns(
        pl.lit(bucket).alias("bucket"),
        pl.Series("object", list(keys), dtype=pl.String),
        pl.lit(prefix, pl.String).alias("prefix"),
        pl.lit(size, pl.Int64).alias("size")
        if isinstance(size, int)
        else pl.Series("size", list(size), dtype=pl.Int64),
    )
    h.add(s3_data(h.vec, frame, HOME_REGION, h.world.account_id))


# --- flows ----------------------------------------------------------------------------------------

FLOW_PLAN: Final = pl.Schema(
    {
        "instance": pl.String(),  # slot name (web-1) of the logged side
        "eni": pl.String(),
        "instance_id": pl.String(),
        "subnet_id": pl.String(),
        "local_ip": pl.String(),
        "side": pl.String(),  # client: the instance opened the connection
        "remote_ip": pl.String(),
        "server_port": pl.Int32(),
        "protocol": pl.Int32(),
        "start": pl.Int64(),
        "length": pl.Int64(),
        "n": pl.Int64(),
        "c_bytes": pl.Int64(),  # mean bytes the client sends per session
        "s_bytes": pl.Int64(),  # mean bytes the server sends back (0: no reply)
        "internet": pl.Boolean(),
        "action": pl.String(),
        "tag": pl.String(),
        "peer_eni": pl.String(),  # the remote side is an instance of the VPC: log it there too
        "peer_instance_id": pl.String(),
        "peer_subnet_id": pl.String(),
    }
)


def flow_plan(h: History, rows: Sequence[Mapping[str, object]]) -> None:
    """Record sessions: per row, ``n`` connections spread over ``[start, start + length)``,
    each logged on the row's instance and, when ``peer_eni`` is set, on the peer's too."""
    plan = pl.DataFrame([{k: r.get(k) for k in FLOW_PLAN} for r in rows], schema=FLOW_PLAN)
    plan = plan.with_columns(
        pl.col("action").fill_null("ACCEPT"),
        pl.col("protocol").fill_null(6),
        pl.col("internet").fill_null(False),
    )
    s = plan.filter(pl.col("n") > 0).with_columns(pl.int_ranges(0, "n").alias("_i")).explode("_i")
    n = s.height
    jitter_c = 0.4 + 1.2 * h.vec.random(n)
    jitter_s = 0.4 + 1.2 * h.vec.random(n)
    s = s.with_columns(
        (pl.col("start") + (h.vec.random(n) * pl.col("length")).cast(pl.Int64)).alias("t0"),
        h.vec.integers(32768, 61000, n).alias("eph"),
        (pl.col("c_bytes").cast(pl.Float64) * jitter_c).cast(pl.Int64).clip(40).alias("cb"),
        (pl.col("s_bytes").cast(pl.Float64) * jitter_s).cast(pl.Int64).alias("sb"),
        h.vec.integers(0, 50, n).alias("dur"),
    )
    client = pl.col("side") == "client"
    cb, sb = pl.col("cb"), pl.col("sb")
    common = {
        "client_ip": pl.when(client).then(pl.col("local_ip")).otherwise(pl.col("remote_ip")),
        "client_port": pl.col("eph").cast(pl.Int32),
        "server_ip": pl.when(client).then(pl.col("remote_ip")).otherwise(pl.col("local_ip")),
        "server_port": pl.col("server_port"),
        "protocol": pl.col("protocol"),
        "start": pl.col("t0"),
        "end": pl.col("t0") + pl.col("dur"),
        "c_packets": (cb // 600 + 2),
        "c_bytes": cb,
        "c_flags": pl.when(pl.col("protocol") == 6).then(pl.lit(SYN_FIN)).otherwise(pl.lit(0)),
        "s_packets": pl.when(sb > 0).then(sb // 900 + 2).otherwise(pl.lit(0)),
        "s_bytes": sb,
        "s_flags": pl.when(pl.col("protocol") == 6).then(pl.lit(SYNACK_FIN)).otherwise(pl.lit(0)),
        "action": pl.col("action"),
        "internet": pl.col("internet"),
        "tag": pl.col("tag"),
    }
    own = s.select(
        pl.lit(h.world.flow_log_id).alias("flow_log"),
        pl.col("eni"),
        pl.col("instance_id"),
        pl.col("subnet_id"),
        pl.col("side"),
        **common,
    )
    peer = s.filter(pl.col("peer_eni").is_not_null()).select(
        pl.lit(h.world.flow_log_id).alias("flow_log"),
        pl.col("peer_eni").alias("eni"),
        pl.col("peer_instance_id").alias("instance_id"),
        pl.col("peer_subnet_id").alias("subnet_id"),
        pl.when(client).then(pl.lit("server")).otherwise(pl.lit("client")).alias("side"),
        **common,
    )
    for part in (own, peer):
        if part.height:
            h.flows.append(sessions(**{c: part[c] for c in part.columns}))


def hours(h: History, first: int, last: int) -> list[tuple[int, int, float]]:
    """``(day, utc_start, local_hour)`` for every hour of days ``first`` ≤ d < ``last``."""
    out = []
    for d in range(max(first, 0), min(last, h.days)):
        for k in range(24):
            t = h.day(d) + k * HOUR
            local = (k + (1 if t < BST_ENDS else 0)) % 24
            out.append((d, t, float(local)))
    return out
