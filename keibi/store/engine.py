"""Opening a database: URL rules, SQLite's transaction fix, and one-line errors."""

from __future__ import annotations

from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from keibi.errors import StoreError

PG_CONNECT_TIMEOUT: Final = 5  # seconds; an unreachable server should fail fast, not hang the CLI
SQLITE_BUSY_MS: Final = 30_000
PG_POOL_SIZE: Final = 20  # connections kept open per process (PostgreSQL)
PG_POOL_OVERFLOW: Final = 30  # ... and opened beyond that under load, closed when returned
READ_ONLY: Final = "keibi_read_only"  # execution option: this transaction only reads


def normalise_url(url: str) -> URL:
    """``url`` parsed, with ``postgresql://`` and ``postgres://`` sent to the psycopg 3 driver."""
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise StoreError(f"cannot open store: {url!r} is not a database URL") from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise StoreError(
            f"cannot open store {safe(parsed)}: only sqlite:/// and postgresql:// URLs are supported"
        )
    return parsed


def safe(url: URL) -> str:
    """The URL as it may be printed: without its password."""
    return url.render_as_string(hide_password=True)


def reason(exc: BaseException) -> str:
    """The first line of the driver's message, which says what went wrong."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line.strip() for line in str(orig).splitlines() if line.strip()]
    return lines[0] if lines else type(orig).__name__


def create(url: URL) -> Engine:
    """An engine for ``url``. SQLite gets real transactions (``BEGIN IMMEDIATE`` unless the
    connection has the ``READ_ONLY`` execution option), WAL and a busy timeout, so a
    migration is all-or-nothing and two writers queue instead of failing."""
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        if "connect_timeout" not in url.query:
            kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT}
        kwargs["pool_pre_ping"] = True
        # ``keibi serve`` answers requests from a pool of worker threads (Starlette's, 40): a
        # pool smaller than that makes them queue for a connection. Connections open lazily,
        # so a scan still uses one or two.
        kwargs["pool_size"] = PG_POOL_SIZE
        kwargs["max_overflow"] = PG_POOL_OVERFLOW
    try:
        engine = sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise StoreError(f"cannot open store {safe(url)}: {reason(exc)}") from exc
    if url.get_backend_name() == "sqlite":
        _sqlite_transactions(engine, memory=url.database in (None, "", ":memory:"))
    return engine


def _sqlite_transactions(engine: Engine, *, memory: bool) -> None:
    # Python's sqlite3 (before 3.12's autocommit=False) starts no transaction for DDL or
    # SELECT; SQLAlchemy's documented recipe takes over BEGIN so transactions are real.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        if not memory:
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: sa.Connection) -> None:
        # Writers take the write lock up front (no deadlocked lock upgrades); readers don't.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")
