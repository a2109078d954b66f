"""``enrich``: the one call between parse and detect."""

from __future__ import annotations

import polars as pl

from keibi.enrich.intel import cloudtrail_remote, dns_domain, with_lists
from keibi.enrich.network import flow_sides
from keibi.intel import Intel
from keibi.sources.schema import SourceName


def enrich(batch: pl.DataFrame, source: SourceName, intel: Intel) -> pl.DataFrame:
    """``batch`` with the columns the package docstring lists for ``source`` appended."""
    if source == "cloudtrail":
        return with_lists(cloudtrail_remote(batch), intel, column="remote_ip", prefix="remote", kind="ip")
    if source == "vpc_flow":
        return with_lists(flow_sides(batch), intel, column="remote_ip", prefix="remote", kind="ip")
    if source == "dns":
        return with_lists(dns_domain(batch), intel, column="domain", prefix="domain", kind="domain")
    raise ValueError(f"unknown source {source!r}")
