"""Run one detector on a sample file the way the engine does: real parser, enrich, prefilter.

Sample folders are ``tests/detect/<family>/samples/<detector>/``: ``hit_*`` and ``miss_*``
files in the source's own format, optional ``threat.txt`` / ``trusted.txt`` lists and
``feed.<Category>.txt`` feeds (``feed.Tor.txt``; categories in ``keibi.intel.FEED_CATEGORIES``)
that apply to every sample of the folder, and ``expected.json`` giving, for each ``hit_*`` file,
the hits it must produce (``type``, ``key``, ``count``, ``severity``, ``resource_role``).
A ``miss_*`` file must produce none. Adding a case means adding a file (and, for a hit,
its line in ``expected.json``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from keibi.detect import ROW, DetectContext, DetectSettings, detectors
from keibi.enrich import enrich
from keibi.intel import Intel, load_feed, load_txt
from keibi.sources import Report, SourceName, plan, read

HERE = Path(__file__).resolve().parent


def sample_dir(detector_id: str) -> Path:
    family, name = detector_id.split(".")
    return HERE / family / "samples" / name


def samples(detector_id: str) -> list[Path]:
    """The ``hit_*`` and ``miss_*`` files of a detector's sample folder."""
    folder = sample_dir(detector_id)
    found = sorted(p for p in folder.iterdir() if p.name.startswith(("hit_", "miss_")))
    assert found, f"no samples in {folder}"
    return found


def intel_for(folder: Path) -> Intel:
    threat = [load_txt(folder / "threat.txt")] if (folder / "threat.txt").exists() else []
    trusted = [load_txt(folder / "trusted.txt", kind="trusted")] if (folder / "trusted.txt").exists() else []
    feeds = [load_feed(p, p.name.split(".")[1]) for p in sorted(folder.glob("feed.*.txt"))]
    return Intel.with_builtin_feeds(threat=threat, trusted=trusted, feeds=feeds)


def parsed(path: Path, intel: Intel) -> tuple[SourceName, pl.DataFrame]:
    """The file through ``keibi.sources`` and ``keibi.enrich``, as one batch."""
    report = Report()
    planned = plan([str(path)], report)
    assert len(planned) == 1, f"{path.name} was not recognised: {report}"
    frames = list(read(planned[0], report))
    assert frames, f"{path.name} gave no records: {report}"
    batch = pl.concat(frames, how="vertical")
    return planned[0].source, enrich(batch, planned[0].source, intel)


def run(detector_id: str, path: Path, *, settings: DetectSettings | None = None) -> pl.DataFrame:
    """The detector's hits on ``path`` (prefilter first, then ``_row`` numbering, as the engine does)."""
    det = detectors.load()[detector_id]
    source, batch = parsed(path, intel_for(path.parent))
    assert source == det.source, f"{path.name} is {source}, {detector_id} reads {det.source}"
    if det.prefilter is not None:
        batch = batch.filter(det.prefilter)
    return det(batch.with_row_index(ROW), DetectContext(settings=settings or DetectSettings()))


def summary(found: pl.DataFrame) -> list[dict[str, Any]]:
    cols = ["type", "key", "count", "severity", "resource_role"]
    return found.select(cols).sort(cols).to_dicts()


def expected(path: Path) -> list[dict[str, Any]]:
    if path.name.startswith("miss_"):
        return []
    table = json.loads((path.parent / "expected.json").read_text())
    return sorted(
        table[path.name], key=lambda h: (h["type"], h["key"], h["count"], h["severity"], h["resource_role"])
    )


def check(detector_id: str, path: Path) -> pl.DataFrame:
    """Assert the sample gives exactly its expected hits; return them for further checks."""
    found = run(detector_id, path)
    assert summary(found) == expected(path)
    return found
