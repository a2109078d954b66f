"""One ``keibi serve`` per database (SQLite and the real PostgreSQL) for the API tests; each test
makes its own accounts, so tests sharing a server never see each other's data."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.server import KeibiServer, serving


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeibiServer]:
    with serving(request.param, tmp_path_factory.mktemp("keibi-serve")) as server:
        yield server
