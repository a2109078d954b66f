"""The DNS signature scenarios cross their thresholds by construction, and their look-alikes do not."""

from __future__ import annotations

import polars as pl
import pytest

from keibi.detect import DetectSettings
from keibi.detect.dns.data_exfiltration import encoded_names
from keibi.tester import background as bg
from keibi.tester.background_dns_signatures import VIDEO_CDN, VIDEO_PER_HOUR
from keibi.tester.generate import DEFAULT_START, new_run
from keibi.tester.scenarios_dns_signatures import EXFIL_DOMAIN, dns_data_exfiltration, metadata_dns_rebind

SETTINGS = DetectSettings()


def _hourly(frame: pl.DataFrame, parent: str) -> pl.DataFrame:
    """Distinct counted names and their encoded characters per clock hour under ``parent``."""
    names = frame.with_columns(pl.col("query_name").str.strip_chars_end(".").alias("domain"))
    counted = names.join(
        encoded_names(names["domain"], SETTINGS.dns_exfil_min_label_length, SETTINGS.dns_exfil_min_entropy),
        on="domain",
    ).filter(pl.col("parent") == parent)
    return (
        counted.unique(subset=["domain"])
        .group_by((pl.col("time") // 3600).alias("hour"))
        .agg(pl.len().alias("names"), pl.col("encoded").sum().alias("bytes"))
        .sort("hour")
    )


def test_exfiltration_crosses_the_hour_and_both_halves_cross_the_thresholds() -> None:
    run = new_run(7, DEFAULT_START, 1.0)
    scenario = dns_data_exfiltration(run)
    hourly = _hourly(pl.concat(run.dns), EXFIL_DOMAIN)
    assert hourly.height == 2
    assert hourly["names"].min() >= SETTINGS.dns_exfil_min_subdomains  # type: ignore[operator]
    assert hourly["bytes"].min() >= SETTINGS.dns_exfil_min_bytes  # type: ignore[operator]
    assert scenario.records == 0 and scenario.key["domain"] == EXFIL_DOMAIN


def test_rebinding_answers_the_metadata_address_some_of_the_time() -> None:
    run = new_run(7, DEFAULT_START, 1.0)
    metadata_dns_rebind(run)
    lookups = pl.concat(run.dns).filter(pl.col("query_type") == "A")
    to_metadata = lookups["answers"].str.contains("169.254.169.254", literal=True)
    assert 0 < to_metadata.sum() < lookups.height


@pytest.mark.parametrize("scale", [0.2, 3.0])
def test_video_cdn_names_stay_below_the_threshold_whatever_the_scale(scale: float) -> None:
    run = new_run(7, DEFAULT_START, scale)
    for make in bg.DNS:
        make(run)
    hourly = _hourly(pl.concat(run.dns), VIDEO_CDN)
    assert hourly["names"].to_list() == [VIDEO_PER_HOUR, VIDEO_PER_HOUR]
    assert SETTINGS.dns_exfil_min_subdomains > VIDEO_PER_HOUR


def test_dns_background_is_a_hundred_times_the_scenarios() -> None:
    run = new_run(7, DEFAULT_START, 0.5)
    dns_data_exfiltration(run)
    metadata_dns_rebind(run)
    attack = sum(frame.height for frame in run.dns)
    for make in bg.DNS:
        make(run)
    background = sum(frame.height for frame in run.dns) - attack
    assert background >= 100 * attack
