"""Impact:EC2/PortSweep on VPC flow log samples (v2 default format and custom v5)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from keibi.detect import DetectSettings
from tests.detect._frames import check, run, sample_dir, samples

DETECTOR = "network.port_sweep"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_says_which_port_and_how_many_hosts() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_redis_sweep.log")
    # 150 addresses tried: the 3 that got the worm's payload were conversations, not attempts
    assert json.loads(found["info"][0]) == {"sweptPort": 6379, "distinctHosts": 147}


def test_threshold_is_the_setting() -> None:
    strict = DetectSettings(port_sweep_min_hosts=148)
    assert run(DETECTOR, sample_dir(DETECTOR) / "hit_redis_sweep.log", settings=strict).is_empty()


def test_a_shorter_window_splits_the_sweep_below_the_threshold() -> None:
    # the blocked SMB sweep spans six minutes: 120 hosts in 10 minutes, fewer than 100 per 2 minutes
    short = DetectSettings(port_sweep_window=timedelta(minutes=2))
    assert run(DETECTOR, sample_dir(DETECTOR) / "hit_smb_sweep_blocked_v5.log", settings=short).is_empty()
