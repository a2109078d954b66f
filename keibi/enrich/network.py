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

from keibi.intel.addresses import address_table, private_flags

WELL_KNOWN: Final = 1024
EPHEMERAL: Final = 32768


def _server(port: pl.Expr, other: pl.Expr) -> pl.Expr:
    """True when ``port`` looks like the service side against ``other``."""
    return ((port < WELL_KNOWN) & (other >= WELL_KNOWN)) | (
        (port >= WELL_KNOWN) & (port < EPHEMERAL) & (other >= EPHEMERAL)
    )


def flow_addresses(flows: pl.DataFrame) -> pl.DataFrame:
    """The :func:`~keibi.intel.addresses.address_table` of both sides of ``flows``.

    Parsed once per batch and shared: :func:`flow_sides` classifies it and the threat-list
    lookup of ``remote_ip`` (always one of the two sides) matches it, so no address is
    parsed twice.
    """
    return address_table(pl.concat([flows["srcaddr"], flows["dstaddr"]]))


def flow_sides(flows: pl.DataFrame, addresses: pl.DataFrame | None = None) -> pl.DataFrame:
    """Add ``direction``, ``local_ip``/``local_port``, ``remote_ip``/``remote_port``, ``remote_private``.

    ``addresses`` is :func:`flow_addresses` of ``flows`` when the caller already has it.
    """
    n = flows.height
    # The distinct addresses of both sides are classified once; rows then only test membership
    # in the (small) private and not-an-address sets, much cheaper than mapping every value.
    table = flow_addresses(flows) if addresses is None else addresses
    flags = private_flags(table)
    private_set = table["value"].filter(flags.fill_null(False)).implode()
    not_ip_set = table["value"].filter(flags.is_null()).implode()

    def private(column: str) -> pl.Expr:
        col = pl.col(column)
        return pl.when(col.is_in(not_ip_set)).then(None).otherwise(col.is_in(private_set))

    src_private, dst_private = pl.col("_src_private"), pl.col("_dst_private")
    # flow-direction as a bool (egress: True, ingress: False), read once; absent in v2-v4 logs.
    egress: pl.Expr = pl.lit(None, pl.Boolean)
    if flows["flow_direction"].null_count() < n:
        lowered = pl.col("flow_direction").str.to_lowercase()
        egress = pl.when(lowered == "egress").then(True).when(lowered == "ingress").then(False)
    one_private = (src_private != dst_private).fill_null(False)
    is_src = pl.col("_local_is_src")
    local, remote = pl.col("local_port"), pl.col("remote_port")
    fd = pl.col("_egress")
    direction = (
        pl.when(pl.col("local_ip").is_null() | pl.col("remote_ip").is_null())
        .then(pl.lit("UNKNOWN"))
        .when(_server(local, remote).fill_null(False))
        .then(pl.lit("INBOUND"))
        .when(_server(remote, local).fill_null(False))
        .then(pl.lit("OUTBOUND"))
        .when(fd.is_not_null())
        .then(pl.when(fd).then(pl.lit("OUTBOUND")).otherwise(pl.lit("INBOUND")))
        .when(one_private)
        .then(pl.when(src_private).then(pl.lit("OUTBOUND")).otherwise(pl.lit("INBOUND")))
        .when(local < remote)
        .then(pl.lit("INBOUND"))
        .when(remote < local)
        .then(pl.lit("OUTBOUND"))
        .otherwise(pl.lit("UNKNOWN"))
    )
    sides = (
        flows.lazy()
        .with_columns(
            private("srcaddr").alias("_src_private"),
            private("dstaddr").alias("_dst_private"),
            egress.alias("_egress"),
        )
        .with_columns(
            fd.fill_null(pl.when(one_private).then(src_private).otherwise(True)).alias("_local_is_src")
        )
        .with_columns(
            pl.when(is_src).then(pl.col("srcaddr")).otherwise(pl.col("dstaddr")).alias("local_ip"),
            pl.when(is_src).then(pl.col("srcport")).otherwise(pl.col("dstport")).alias("local_port"),
            pl.when(is_src).then(pl.col("dstaddr")).otherwise(pl.col("srcaddr")).alias("remote_ip"),
            pl.when(is_src).then(pl.col("dstport")).otherwise(pl.col("srcport")).alias("remote_port"),
            pl.when(is_src).then(dst_private).otherwise(src_private).alias("remote_private"),
        )
        .select("local_ip", "local_port", "remote_ip", "remote_port", "remote_private", direction=direction)
        .collect()
    )
    # Only the new columns are computed lazily; the parsed ones are handed back untouched.
    return flows.with_columns(sides.get_columns())
