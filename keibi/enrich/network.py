"""Which side of a flow record is the instance, and who opened the connection.

A flow record is written by one network interface (ENI) and names its packets' source and
destination, not "us" and "them". keibi decides in two steps, per row, so the answer never
depends on what else is in the batch:

1. **The local side** (the ENI's address): ``flow-direction`` when logged (``egress``: the
   source, ``ingress``: the destination); otherwise the private address when exactly one
   side is private (RFC 1918, 100.64/10, loopback, link-local, fc00::/7, fe80::/10);
   otherwise (both private or both public) the source, the side whose packets the record
   counts.
2. **The direction**, GuardDuty's ``connectionDirection``: who opened the connection.
   Replies are logged too (a web server's answers are ``egress``), so the ports decide first:
   the server is the side with a well-known port (< 1024) facing a non-well-known one, else
   the side with a registered port (< 32768) facing an ephemeral one (>= 32768, the Linux and
   Windows ephemeral ranges). Local server → ``INBOUND``, remote server → ``OUTBOUND``. When
   the ports do not tell, ``flow-direction`` does (``ingress`` → ``INBOUND``), then the
   private/public split (private source → ``OUTBOUND``), then the lower port as the server;
   anything else (no addresses, equal ports) is ``UNKNOWN``.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from keibi.intel import is_private

WELL_KNOWN: Final = 1024
EPHEMERAL: Final = 32768


def _server(port: pl.Expr, other: pl.Expr) -> pl.Expr:
    """True when ``port`` looks like the service side against ``other``."""
    return ((port < WELL_KNOWN) & (other >= WELL_KNOWN)) | (
        (port >= WELL_KNOWN) & (port < EPHEMERAL) & (other >= EPHEMERAL)
    )


def flow_sides(flows: pl.DataFrame) -> pl.DataFrame:
    """Add ``direction``, ``local_ip``/``local_port``, ``remote_ip``/``remote_port``, ``remote_private``."""
    flow_dir = pl.col("flow_direction").str.to_lowercase()
    frame = flows.with_columns(
        is_private(flows["srcaddr"]).alias("_src_private"), is_private(flows["dstaddr"]).alias("_dst_private")
    )
    one_private = pl.col("_src_private") != pl.col("_dst_private")
    local_is_src = (
        pl.when(flow_dir == "egress")
        .then(True)
        .when(flow_dir == "ingress")
        .then(False)
        .when(one_private.fill_null(False))
        .then(pl.col("_src_private"))
        .otherwise(True)
    )
    frame = frame.with_columns(_local_is_src=local_is_src)
    is_src = pl.col("_local_is_src")
    frame = frame.with_columns(
        pl.when(is_src).then(pl.col("srcaddr")).otherwise(pl.col("dstaddr")).alias("local_ip"),
        pl.when(is_src).then(pl.col("srcport")).otherwise(pl.col("dstport")).alias("local_port"),
        pl.when(is_src).then(pl.col("dstaddr")).otherwise(pl.col("srcaddr")).alias("remote_ip"),
        pl.when(is_src).then(pl.col("dstport")).otherwise(pl.col("srcport")).alias("remote_port"),
        pl.when(is_src)
        .then(pl.col("_dst_private"))
        .otherwise(pl.col("_src_private"))
        .alias("remote_private"),
    )
    local, remote = pl.col("local_port"), pl.col("remote_port")
    direction = (
        pl.when(pl.col("local_ip").is_null() | pl.col("remote_ip").is_null())
        .then(pl.lit("UNKNOWN"))
        .when(_server(local, remote).fill_null(False))
        .then(pl.lit("INBOUND"))
        .when(_server(remote, local).fill_null(False))
        .then(pl.lit("OUTBOUND"))
        .when(flow_dir == "ingress")
        .then(pl.lit("INBOUND"))
        .when(flow_dir == "egress")
        .then(pl.lit("OUTBOUND"))
        .when(one_private.fill_null(False))
        .then(pl.when(pl.col("_src_private")).then(pl.lit("OUTBOUND")).otherwise(pl.lit("INBOUND")))
        .when(local < remote)
        .then(pl.lit("INBOUND"))
        .when(remote < local)
        .then(pl.lit("OUTBOUND"))
        .otherwise(pl.lit("UNKNOWN"))
    )
    return frame.with_columns(direction=direction).drop("_src_private", "_dst_private", "_local_is_src")
