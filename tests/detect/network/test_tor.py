"""UnauthorizedAccess:EC2/TorClient and UnauthorizedAccess:EC2/TorRelay on VPC flow log samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keibi.detect import DetectSettings
from tests.detect._frames import check, run, sample_dir, samples, summary

DETECTOR = "network.tor"
FOLDER = sample_dir(DETECTOR)


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_relay_info_counts_peers_and_names_the_feed() -> None:
    found = check(DETECTOR, FOLDER / "hit_tor_relay_v5.log")
    info = json.loads(found["info"][0])
    assert info["torRelaysInbound"] == 12  # the three exits that connected in are not counted
    assert info["torNodesOutbound"] == 4
    assert info["threatNames"] in (["Tor"], ["TorRelay"])


def test_below_the_relay_thresholds_a_relay_is_a_client() -> None:
    """Without enough relays connecting in, the connections it opened to four relays (request
    and reply records) make it a client."""
    strict = DetectSettings(tor_relay_min_inbound=13)
    found = summary(run(DETECTOR, FOLDER / "hit_tor_relay_v5.log", settings=strict))
    assert [(h["type"], h["count"]) for h in found] == [("UnauthorizedAccess:EC2/TorClient", 8)]


def test_relay_needs_its_own_connections_out() -> None:
    strict = DetectSettings(tor_relay_min_outbound=5)
    found = summary(run(DETECTOR, FOLDER / "hit_tor_relay_v5.log", settings=strict))
    assert [h["type"] for h in found] == ["UnauthorizedAccess:EC2/TorClient"]


def test_relay_peers_are_counted_per_window() -> None:
    """Twelve relays in one hour make a relay; the same twelve spread over two windows do not."""
    short = DetectSettings(tor_window=DetectSettings().tor_window / 6)
    found = summary(run(DETECTOR, FOLDER / "hit_tor_relay_v5.log", settings=short))
    assert "UnauthorizedAccess:EC2/TorRelay" not in {h["type"] for h in found}
