"""CryptoCurrency:EC2/BitcoinTool.B!DNS on Route 53 Resolver query log samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.detect._frames import check, sample_dir, samples

DETECTOR = "dns.bitcoin_tool"


@pytest.mark.parametrize("sample", samples(DETECTOR), ids=lambda p: p.name)
def test_sample(sample: Path) -> None:
    check(DETECTOR, sample)


def test_info_names_the_feed() -> None:
    found = check(DETECTOR, sample_dir(DETECTOR) / "hit_moneropool_and_subdomains.jsonl")
    assert json.loads(found["info"][0]) == {"threatListName": "keibi-mining-pools"}
