"""What a connection attempt that carried nothing looks like in VPC flow records.

Scans, sweeps and probes are connection attempts that exchange no data: a SYN (and its
retransmissions), maybe the handshake's ACK, then a RST or FIN. Flow logs have no payload
field, but they count packets and bytes per 5-tuple and capture window, and a packet without
payload is only headers: IPv4 (20 bytes) or IPv6 (40) plus TCP (20, up to 60 with options).
So a record is **handshake-only** when it has at most ``HANDSHAKE_PACKETS`` packets of at
most ``HEADER_BYTES`` bytes each on average. A real client's first record always carries
its request (a TLS ClientHello alone is hundreds of bytes), and a long transfer's ACK-only
records have far more packets, so neither looks like an attempt.

An outbound attempt is **failed** when the remote host never answered it with more than one
packet: a closed port answers with one RST, a SYN scan's open port with one SYN-ACK, a
filtered or absent host with nothing. A port that accepted a full connection (SYN-ACK, then
FIN or a banner) answered; that is what a monitoring check looks like, so checks stay out
however often they repeat. The answer is the record of the reverse 5-tuple on the same
interface, matched on the addresses and ports as logged (not on ``keibi.enrich``'s local and
remote sides, which both-private v2 records can only guess).
"""

from __future__ import annotations

from typing import Final

import polars as pl

TCP: Final = 6
HEADER_BYTES: Final = 80
"""Most bytes a packet without payload has: IPv6 (40) + TCP with options (40); IPv4 SYNs are 60."""
HANDSHAKE_PACKETS: Final = 8
"""A SYN and up to six retransmissions plus the closing RST: the most an attempt sends."""

SMALL_TCP: Final = (pl.col("protocol") == TCP) & (pl.col("packets") <= HANDSHAKE_PACKETS)
"""Row filter for detectors built on :func:`failed_outbound`: its attempts and their answers."""
NO_PAYLOAD: Final = (
    (pl.col("packets") > 0)
    & (pl.col("packets") <= HANDSHAKE_PACKETS)
    & (pl.col("bytes") <= HEADER_BYTES * pl.col("packets"))
)
"""A handshake-only record: see the module docstring."""

_TUPLE: Final = ("interface_id", "srcaddr", "srcport", "dstaddr", "dstport")


def failed_outbound(flows: pl.DataFrame) -> pl.DataFrame:
    """The request records of outbound TCP attempts that carried nothing and got no real answer.

    ``flows`` are enriched flow records (at least those passing :data:`SMALL_TCP`). A request
    record is one the instance sent (``direction`` OUTBOUND, ``srcaddr`` its own address);
    it is kept when it is handshake-only and no record of the reverse 5-tuple on the same
    interface has two packets or more. Rejected attempts (egress blocked) are kept: the
    instance still tried.
    """
    attempts = flows.filter(
        pl.col("protocol") == TCP,
        pl.col("direction") == "OUTBOUND",
        pl.col("srcaddr") == pl.col("local_ip"),
        pl.col("remote_port").is_not_null(),
        NO_PAYLOAD,
    )
    if attempts.is_empty():
        return attempts
    answers = (
        flows.filter(pl.col("protocol") == TCP, pl.col("packets") >= 2)
        .select(
            "interface_id",
            pl.col("dstaddr").alias("srcaddr"),
            pl.col("dstport").alias("srcport"),
            pl.col("srcaddr").alias("dstaddr"),
            pl.col("srcport").alias("dstport"),
        )
        .unique()
    )
    return attempts.join(answers, on=list(_TUPLE), how="anti", maintain_order="left")


def resource() -> pl.Expr:
    """The instance a flow record names, else its network interface (v2 logs have no instance id)."""
    return pl.coalesce("instance_id", "interface_id").alias("resource")


def not_trusted() -> pl.Expr:
    """The remote address is on no trusted list: GuardDuty raises no flow finding for those."""
    return ~pl.col("remote_trusted").fill_null(False)
