"""VPC Flow Log records, built column-wise and written as AWS writes them.

Traffic is described as *sessions* (client → server, with or without a reply); each
session becomes one record per direction on each logged interface, as AWS aggregates per
5-tuple per capture window. Everything is Polars columns so the benchmark can write
ten million records in seconds.

Two flow logs exist: the VPC-wide one in the default v2 format, and one on the bastion's
interface in a custom v5 field order (``instance-id``, ``flow-direction``, ``tcp-flags`` …),
which exercises header mapping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import polars as pl

from keibi.sources import VPC_FLOW_DEFAULT_FORMAT
from keibi.tester.delivery import DELIVERY_SECONDS, flow_path
from keibi.tester.vec import Vec, arange, frame_of

V2_FIELDS: Final = list(VPC_FLOW_DEFAULT_FORMAT)  # the default format, as AWS writes its header
V5_FIELDS: Final = [
    "version",
    "vpc-id",
    "subnet-id",
    "instance-id",
    "interface-id",
    "account-id",
    "type",
    "srcaddr",
    "dstaddr",
    "srcport",
    "dstport",
    "pkt-srcaddr",
    "pkt-dstaddr",
    "protocol",
    "bytes",
    "packets",
    "start",
    "end",
    "action",
    "tcp-flags",
    "log-status",
    "flow-direction",
    "traffic-path",
]

# tcp-flags as AWS reports them (bitmask of SYN 2, SYN-ACK 18, FIN 1, RST 4; plain ACK is not reported).
SYN: Final = 2
SYN_FIN: Final = 3
SYNACK_FIN: Final = 19
RST: Final = 4

SESSION_SCHEMA: Final = pl.Schema(
    {
        "flow_log": pl.String(),
        "eni": pl.String(),
        "instance_id": pl.String(),
        "subnet_id": pl.String(),
        "side": pl.String(),  # which end of the session the logged interface is: client | server
        "client_ip": pl.String(),
        "client_port": pl.Int32(),
        "server_ip": pl.String(),
        "server_port": pl.Int32(),
        "protocol": pl.Int32(),
        "start": pl.Int64(),
        "end": pl.Int64(),
        "c_packets": pl.Int64(),
        "c_bytes": pl.Int64(),
        "c_flags": pl.Int32(),
        "s_packets": pl.Int64(),  # 0: no reply record
        "s_bytes": pl.Int64(),
        "s_flags": pl.Int32(),
        "action": pl.String(),
        "internet": pl.Boolean(),  # the remote end is outside the VPC (traffic-path 8 on egress)
        "tag": pl.String(),
    }
)


def ip_strings(values: pl.Series) -> pl.Series:
    """Dotted quads for a column of IPv4 addresses as integers, vectorised."""
    v = pl.col("v")
    return (
        pl.DataFrame({"v": values.cast(pl.Int64)})
        .select(
            pl.concat_str(
                [(v // (1 << s) % 256).cast(pl.String) for s in (24, 16, 8, 0)], separator="."
            ).alias("ip")
        )
        .to_series()
    )


_PUBLIC_FIRST_OCTETS = [o for o in range(1, 224) if o not in (10, 100, 127, 169, 172, 192, 198, 203)]


def public_ips(vec: Vec, n: int, exclude: Sequence[str] = ()) -> pl.Series:
    """``n`` random public IPv4 addresses (as integers) avoiding ``exclude`` (IPs or CIDRs)."""
    first = vec.choice(_PUBLIC_FIRST_OCTETS, n).cast(pl.Int64)
    frame = pl.DataFrame({"ip": first * (1 << 24) + vec.integers(0, 1 << 24, n)})
    low = pl.col("ip") % 256
    frame = frame.with_columns(
        pl.when(low.is_in([0, 255])).then(pl.col("ip") + 1 - 2 * (low // 255)).otherwise("ip")
    )
    for item in exclude:
        addr, _, bits = item.partition("/")
        a, b, c, d = (int(x) for x in addr.split("."))
        size = 1 << (32 - int(bits or 32))
        base = ((a << 24) | (b << 16) | (c << 8) | d) // size * size
        inside = (pl.col("ip") // size * size) == base
        frame = frame.with_columns(pl.when(inside).then(pl.col("ip") + (1 << 20)).otherwise("ip"))
    return frame["ip"]


def sessions(**columns: object) -> pl.DataFrame:
    """A session frame: scalars broadcast, columns taken as they are; see ``SESSION_SCHEMA``."""
    return frame_of(SESSION_SCHEMA, columns)


def records(sessions_frame: pl.DataFrame, account: str, vpc_id: str) -> pl.DataFrame:
    """One record per direction per session on the logged interface (no reply, no second record)."""
    s = sessions_frame
    egress_fwd = pl.col("side") == "client"
    common = [
        pl.col("flow_log"),
        pl.col("eni").alias("interface-id"),
        pl.col("instance_id").alias("instance-id"),
        pl.col("subnet_id").alias("subnet-id"),
        pl.col("protocol").alias("protocol"),
        pl.col("start"),
        pl.col("end"),
        pl.col("action"),
        pl.lit("OK").alias("log-status"),
        pl.col("tag"),
    ]
    fwd = s.select(
        *common,
        pl.col("client_ip").alias("srcaddr"),
        pl.col("server_ip").alias("dstaddr"),
        pl.col("client_port").alias("srcport"),
        pl.col("server_port").alias("dstport"),
        pl.col("c_packets").alias("packets"),
        pl.col("c_bytes").alias("bytes"),
        pl.col("c_flags").alias("tcp-flags"),
        pl.when(egress_fwd).then(pl.lit("egress")).otherwise(pl.lit("ingress")).alias("flow-direction"),
        pl.when(egress_fwd).then(pl.when(pl.col("internet")).then(8).otherwise(1)).alias("traffic-path"),
    )
    rev = s.filter(pl.col("s_packets") > 0).select(
        *common,
        pl.col("server_ip").alias("srcaddr"),
        pl.col("client_ip").alias("dstaddr"),
        pl.col("server_port").alias("srcport"),
        pl.col("client_port").alias("dstport"),
        pl.col("s_packets").alias("packets"),
        pl.col("s_bytes").alias("bytes"),
        pl.col("s_flags").alias("tcp-flags"),
        pl.when(egress_fwd).then(pl.lit("ingress")).otherwise(pl.lit("egress")).alias("flow-direction"),
        pl.when(~egress_fwd).then(pl.when(pl.col("internet")).then(8).otherwise(1)).alias("traffic-path"),
    )
    out = pl.concat([fwd, rev], how="vertical")
    return out.with_columns(
        pl.lit(account).alias("account-id"),
        pl.lit(vpc_id).alias("vpc-id"),
        pl.lit("IPv4").alias("type"),
        pl.col("srcaddr").alias("pkt-srcaddr"),
        pl.col("dstaddr").alias("pkt-dstaddr"),
    )


def idle_records(
    enis: Sequence[tuple[str, str, str | None, str]],
    busy: pl.DataFrame,
    start: int,
    end: int,
    window: int,
    account: str,
    vpc_id: str,
) -> pl.DataFrame:
    """NODATA records for each (flow_log, eni, instance, subnet) and capture window with no traffic."""
    starts = pl.DataFrame({"start": arange(start - start % window, end, window)})
    interfaces = pl.DataFrame(
        [list(e) for e in enis], schema=["flow_log", "interface-id", "instance-id", "subnet-id"], orient="row"
    )
    grid = interfaces.join(starts, how="cross")
    used = busy.select("interface-id", (pl.col("start") - pl.col("start") % window).alias("start")).unique()
    idle = grid.join(used, on=["interface-id", "start"], how="anti")
    return idle.with_columns(
        (pl.col("start") + window - 1 - pl.col("start") % 7).alias("end"),
        pl.lit("NODATA").alias("log-status"),
        pl.lit("background:idle-interfaces").alias("tag"),
        pl.lit(account).alias("account-id"),
        pl.lit(vpc_id).alias("vpc-id"),
    )


def _formatted(frame: pl.DataFrame, fields: Sequence[str], version: int) -> pl.DataFrame:
    cols = []
    for name in fields:
        if name == "version":
            cols.append(pl.lit(str(version)).alias(name))
        elif name in frame.columns:
            cols.append(pl.col(name).cast(pl.String).alias(name))
        else:
            cols.append(pl.lit(None, pl.String).alias(name))
    return frame.select(cols)


def write_flow_logs(
    outdir: Path,
    frame: pl.DataFrame,
    *,
    account: str,
    region: str,
    formats: Mapping[str, tuple[Sequence[str], int]],
    suffix: Vec,
    level: int,
    delivery: int = DELIVERY_SECONDS,
) -> dict[str, set[str]]:
    """Write one file per flow log per delivery interval (``delivery`` seconds); return tag → files holding its records.

    A record goes to the delivery after its capture window ends; inside a file records are in
    ``start`` order, as AWS writes them per interface.
    """
    frame = frame.with_columns(
        ((pl.col("end") // delivery + 1) * delivery).alias("_delivery"),
    ).sort(
        "flow_log",
        "_delivery",
        "start",
        "interface-id",
        "srcaddr",
        "srcport",
        nulls_last=True,
        maintain_order=True,
    )
    tag_files: dict[str, set[str]] = {}
    for (flow_log, delivery), part in frame.group_by(["flow_log", "_delivery"], maintain_order=True):
        fields, version = formats[str(flow_log)]
        rel = flow_path(account, region, str(flow_log), int(str(delivery)), f"{suffix.uint32():08x}")
        target = outdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        _formatted(part, fields, version).write_csv(
            target,
            separator=" ",
            quote_style="never",
            null_value="-",
            compression="gzip",
            compression_level=level,
        )
        for tag in part["tag"].unique().to_list():
            tag_files.setdefault(str(tag), set()).add(rel.as_posix())
    return tag_files
