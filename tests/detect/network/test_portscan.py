"""Recon:EC2/Portscan on VPC flow log samples."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from keibi.detect import DetectSettings
from tests.detect._frames import check, run, sample_dir, samples

DETECTOR = "network.portscan"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_says_which_host_and_how_many_ports() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_outbound_scan.log")
    assert json.loads(found["info"][0]) == {"scannedHost": "198.51.100.20", "distinctPorts": 41}


def test_a_longer_window_joins_the_split_scan() -> None:
    wide = DetectSettings(portscan_window=timedelta(hours=1))
    found = run(DETECTOR, sample_dir(DETECTOR) / "miss_scan_split_across_windows.log", settings=wide)
    assert found["count"].to_list() == [40]


def test_threshold_is_the_setting() -> None:
    strict = DetectSettings(portscan_min_ports=42)
    assert run(DETECTOR, sample_dir(DETECTOR) / "hit_outbound_scan.log", settings=strict).is_empty()
