"""Fixtures for the sources tests: the sample files (the S3 fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import polars as pl
import pytest

from keibi.sources import SCHEMAS, Report, SourceName, plan, read

FILES = Path(__file__).resolve().parent / "files"


@pytest.fixture(scope="session")
def files() -> Path:
    return FILES


def _read_all(
    paths: Sequence[str | Path], *, batch_rows: int = 250_000, report: Report | None = None
) -> tuple[dict[SourceName, pl.DataFrame], Report]:
    """Every record under ``paths``, one frame per source (in planned order), and the report."""
    report = report if report is not None else Report()
    frames: dict[SourceName, list[pl.DataFrame]] = {}
    for planned in plan([str(p) for p in paths], report):
        for frame in read(planned, report, batch_rows=batch_rows):
            assert frame.schema == SCHEMAS[planned.source]
            assert 0 < frame.height <= batch_rows
            frames.setdefault(planned.source, []).append(frame)
    return {source: pl.concat(parts) for source, parts in frames.items()}, report


ReadAll = Callable[..., tuple[dict[SourceName, pl.DataFrame], Report]]


@pytest.fixture(scope="session")
def read_all() -> ReadAll:
    """``read_all(paths, batch_rows=..., report=...)``: plan and read like the pipeline does."""
    return _read_all
