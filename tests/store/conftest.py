"""Every store test runs twice: on SQLite and on the real PostgreSQL (fresh schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keibi.store import Store
from tests.dbs import postgres_url, sqlite_url


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database URL of an empty database; PostgreSQL being down fails the test, never skips it."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_url() as url:
            yield url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    opened = Store(db_url)
    try:
        yield opened
    finally:
        opened.close()
