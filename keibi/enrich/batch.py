"""``enrich``: the one call between parse and detect."""

from __future__ import annotations

import polars as pl

from keibi.enrich.intel import (
    cloudtrail_addresses,
    cloudtrail_remote,
    dns_domain,
    with_answer_feeds,
    with_aws_ranges,
    with_geo,
    with_lists,
)
from keibi.enrich.network import flow_addresses, flow_sides
from keibi.intel import Intel
from keibi.sources.schema import SourceName


def enrich(batch: pl.DataFrame, source: SourceName, intel: Intel) -> pl.DataFrame:
    """``batch`` with the columns the package docstring lists for ``source`` appended.

    The result is contiguous (one chunk per column): a batch is concatenated from many parsed
    frames, and the looked-up columns come back in one chunk, so without this every detector's
    ``filter`` would first align the chunks of the whole batch (measured on 1.4M flows: the
    port-scan detector 2x slower). Rechunking once here is a single copy.
    """
    if source == "cloudtrail":
        # sourceIPAddress is parsed once: remote_ip, the list lookup and the AWS lookup share it.
        addresses = cloudtrail_addresses(batch)
        out = with_lists(
            cloudtrail_remote(batch, addresses),
            intel,
            column="remote_ip",
            prefix="remote",
            kind="ip",
            addresses=addresses,
        )
        out = with_aws_ranges(out, intel, column="remote_ip", prefix="remote", addresses=addresses)
        out = with_geo(out, intel, column="remote_ip", prefix="remote")
    elif source == "vpc_flow":
        # Both sides are parsed once; remote_ip is one of them, so the lookup reuses the table.
        addresses = flow_addresses(batch)
        out = with_lists(
            flow_sides(batch, addresses),
            intel,
            column="remote_ip",
            prefix="remote",
            kind="ip",
            addresses=addresses,
        )
        # Each interface's earliest record of the batch: behaviour detectors learn from it since
        # when an instance is known, whichever records they keep (computed once, not per detector).
        out = out.with_columns(
            (pl.col("event_time") == pl.col("event_time").min().over("interface_id"))
            .fill_null(False)
            .alias("first_of_interface")
        )
    elif source == "dns":
        out = with_lists(dns_domain(batch), intel, column="domain", prefix="domain", kind="domain")
        out = with_answer_feeds(out, intel)
    else:
        raise ValueError(f"unknown source {source!r}")
    return out.rechunk()
