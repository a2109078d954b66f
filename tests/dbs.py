"""Database URLs for tests that run against both SQLite and the real PostgreSQL.

Independent of keibi, so any test package can use it::

    @pytest.fixture(params=["sqlite", "postgres"])
    def db_url(request, tmp_path):
        if request.param == "sqlite":
            yield sqlite_url(tmp_path)
        else:
            with postgres_url() as url:
                yield url

PostgreSQL is ``KEIBI_TEST_POSTGRES_URL`` (default ``POSTGRES_URL`` below: trust auth, user
``postgres``, database ``test``). Each ``postgres_url()`` gets a fresh schema, selected
through the URL's ``options=-csearch_path=…``, and drops it afterwards, so tests (also under
pytest-xdist) never see each other's tables. An unreachable server is an error, never a
skip: the suite promises both databases.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final
from urllib.parse import quote

import psycopg
from psycopg import sql

POSTGRES_URL: Final = os.environ.get(
    "KEIBI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def sqlite_url(tmp_path: Path) -> str:
    """A SQLite database file of its own under ``tmp_path``."""
    return f"sqlite:///{(tmp_path / 'keibi-test.db').resolve()}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL whose connections use a new, empty schema; dropped on exit."""
    schema = f"keibi_t_{uuid.uuid4().hex[:16]}"
    try:
        admin = psycopg.connect(_libpq(POSTGRES_URL), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RuntimeError(f"PostgreSQL for the tests is unreachable at {POSTGRES_URL}: {first}") from exc
    with admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        try:
            separator = "&" if "?" in POSTGRES_URL else "?"
            yield f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
        finally:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
