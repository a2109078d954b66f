"""Threat-list and AWS-range columns for the remote party of each record (see the package docstring)."""

from __future__ import annotations

import polars as pl

from keibi.intel import GeoIP, Intel, address_table, normalise_domain
from keibi.intel.lookup import ValueKind


def cloudtrail_addresses(events: pl.DataFrame) -> pl.DataFrame:
    """The :func:`~keibi.intel.addresses.address_table` of ``sourceIPAddress``.

    Parsed once per batch and shared by :func:`cloudtrail_remote`, the threat-list lookup and
    the AWS-range lookup of ``remote_ip`` (a subset of the same values).
    """
    return address_table(events["source_ip"])


def cloudtrail_remote(events: pl.DataFrame, addresses: pl.DataFrame | None = None) -> pl.DataFrame:
    """``remote_ip``: ``sourceIPAddress`` when it is an IP (null for ``ec2.amazonaws.com`` etc.).

    ``addresses`` is :func:`cloudtrail_addresses` of ``events`` when the caller already has it.
    """
    table = cloudtrail_addresses(events) if addresses is None else addresses
    ips = table.filter(pl.col("v4").is_not_null() | pl.col("hi").is_not_null())["value"]
    return events.with_columns(
        pl.when(pl.col("source_ip").is_in(ips.implode()))
        .then(pl.col("source_ip"))
        .otherwise(None)
        .alias("remote_ip")
    )


def with_geo(events: pl.DataFrame, intel: Intel, *, column: str, prefix: str) -> pl.DataFrame:
    """``<prefix>_country`` (ISO code), ``<prefix>_asn``, ``<prefix>_lat``, ``<prefix>_lon`` of
    ``column`` from ``intel.geo`` (null where unknown: no ASN or City database configured, or
    not a public address). Looked up once per distinct address; ``GeoIP`` caches across batches,
    so a batch costs one dictionary lookup per distinct caller."""
    geo = intel.geo if intel.geo is not None else GeoIP()
    table = geo.lookup(events[column]).select(
        pl.col("value").alias(column),
        pl.col("country_code").alias(f"{prefix}_country"),
        pl.col("asn").alias(f"{prefix}_asn"),
        pl.col("lat").alias(f"{prefix}_lat"),
        pl.col("lon").alias(f"{prefix}_lon"),
    )
    return events.join(table, on=column, how="left", maintain_order="left")


def dns_domain(queries: pl.DataFrame) -> pl.DataFrame:
    """``domain``: the query name lower-case, without the trailing root dot."""
    return queries.with_columns(normalise_domain(pl.col("query_name")).alias("domain"))


def with_answer_feeds(queries: pl.DataFrame, intel: Intel) -> pl.DataFrame:
    """Append ``answer_ip``, ``answer_feed``, ``answer_feed_category``: the first address the
    query resolved to (A/AAAA ``Rdata``) that a feed lists, with that feed, else nulls. An
    answer on a trusted list counts as unlisted; on a scoped trusted list (``IntelList.scope``),
    only in the queries of that list's accounts and Regions. (Scoped threat lists do not apply:
    answers are matched against feeds only, and feeds are never scoped.)

    Only the few distinct answer addresses are looked up; rows meet them through a join on
    the handful that a feed holds. Scoped trusted lists are then matched on those few rows.
    """
    schema = pl.Schema(
        {"answer_ip": pl.String(), "answer_feed": pl.String(), "answer_feed_category": pl.String()}
    )
    owners = ["account_id", "region"] if intel.scoped else []
    answers = (
        queries.select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_i"), pl.col("answers"), *owners)
        .explode("answers")
        .select(
            "_i",
            *owners,
            pl.col("answers").struct.field("Rdata").alias("answer_ip"),
            pl.col("answers").struct.field("Type").alias("_type"),
        )
        .filter(pl.col("_type").is_in(["A", "AAAA"]) & pl.col("answer_ip").is_not_null())
    )
    if answers.is_empty() or not intel.feeds:
        return queries.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in schema.items())
    distinct = answers["answer_ip"].unique()
    looked = intel.lookup(distinct, kind="ip", prefix="answer")
    listed = pl.DataFrame({"answer_ip": distinct}).hstack(looked.get_columns())
    listed = listed.filter(pl.col("answer_feed").is_not_null()).select(
        "answer_ip", "answer_feed", "answer_feed_category"
    )
    joined = answers.join(listed, on="answer_ip", how="inner")
    if owners:
        trusted = intel.lookup(joined["answer_ip"], kind="ip", prefix="t", owners=joined.select(owners))
        joined = joined.filter(~trusted["t_trusted"]).drop(owners)
    first = joined.group_by("_i").agg(pl.all().exclude("_type").first())
    out = queries.with_row_index("_i").join(first, on="_i", how="left", maintain_order="left")
    return out.drop("_i").cast(schema)


def with_lists(
    batch: pl.DataFrame,
    intel: Intel,
    *,
    column: str,
    prefix: str,
    kind: ValueKind,
    addresses: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Append ``<prefix>_trusted``/``_custom_list``/``_feed``/``_feed_category`` for ``column``.

    ``addresses``: an already parsed address table covering ``column`` (see ``Intel.lookup``).
    Lists scoped to some accounts (``IntelList.scope``) apply to the rows of those accounts
    and Regions only, by the batch's ``account_id`` and ``region``.
    """
    owners = batch.select("account_id", "region") if intel.scoped else None
    looked = intel.lookup(batch[column], kind=kind, prefix=prefix, table=addresses, owners=owners)
    return batch.hstack(looked.get_columns())


def with_aws_ranges(
    batch: pl.DataFrame, intel: Intel, *, column: str, prefix: str, addresses: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Append ``<prefix>_aws_prefix``/``_aws_region``/``_aws_service`` for the addresses of ``column``.

    ``addresses``: as for :func:`with_lists`.
    """
    looked = intel.aws_lookup(batch[column], prefix=prefix, table=addresses)
    return batch.hstack(looked.get_columns())
