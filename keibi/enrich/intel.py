"""Threat-list columns for the remote party of each record (see the package docstring)."""

from __future__ import annotations

import polars as pl

from keibi.intel import Intel, is_ip, normalise_domain
from keibi.intel.lookup import ValueKind


def cloudtrail_remote(events: pl.DataFrame) -> pl.DataFrame:
    """``remote_ip``: ``sourceIPAddress`` when it is an IP (null for ``ec2.amazonaws.com`` etc.)."""
    is_address = is_ip(events["source_ip"])
    return events.with_columns(
        pl.when(is_address).then(pl.col("source_ip")).otherwise(None).alias("remote_ip")
    )


def dns_domain(queries: pl.DataFrame) -> pl.DataFrame:
    """``domain``: the query name lower-case, without the trailing root dot."""
    return queries.with_columns(normalise_domain(pl.col("query_name")).alias("domain"))


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
    """
    looked = intel.lookup(batch[column], kind=kind, prefix=prefix, table=addresses)
    return batch.hstack(looked.get_columns())
