"""Shared fixtures: where the team's reference datasets live."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = SHARED / "datasets"
    assert path.is_dir(), f"the shared datasets are missing: {path}"
    return path
