"""Migrations: applied once each, recorded, nothing applied on an up-to-date database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from keibi.errors import StoreError
from keibi.store import MIGRATIONS, Store, migrate
from keibi.store.tables import metadata


def _versions(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return list(conn.scalars(sa.text("SELECT version FROM schema_migrations ORDER BY version")))


def test_a_new_database_is_migrated_once(db_url: str) -> None:
    with Store(db_url) as first:
        assert first.migrated == list(range(1, len(MIGRATIONS) + 1))
    with Store(db_url) as again:
        assert again.migrated == []
        assert _versions(again) == list(range(1, len(MIGRATIONS) + 1))
        assert migrate(again.engine) == []


def test_migrations_build_the_tables_the_code_uses(store: Store) -> None:
    inspector = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        reflected = {c["name"] for c in inspector.get_columns(table.name)}
        assert reflected == {c.name for c in table.columns}, table.name
    indexed = {tuple(ix["column_names"]) for ix in inspector.get_indexes("findings")}
    assert {("type",), ("account_id",), ("event_last_seen",), ("resource_id",)} <= indexed


def test_a_new_migration_is_applied_on_the_next_open(db_url: str) -> None:
    with Store(db_url):
        pass

    def add_notes(conn: sa.Connection) -> None:
        conn.execute(sa.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))

    steps = [*MIGRATIONS, add_notes]
    with Store(db_url) as store:
        assert migrate(store.engine, steps) == [len(steps)]
        assert migrate(store.engine, steps) == []
        assert "notes" in sa.inspect(store.engine).get_table_names()


def test_a_failing_migration_leaves_nothing_behind(db_url: str) -> None:
    with Store(db_url) as store:

        def broken(conn: sa.Connection) -> None:
            conn.execute(sa.text("CREATE TABLE half (id INTEGER PRIMARY KEY)"))
            conn.execute(sa.text("SELECT * FROM no_such_table"))

        with pytest.raises(sa.exc.SQLAlchemyError):
            migrate(store.engine, [*MIGRATIONS, broken])
        assert "half" not in sa.inspect(store.engine).get_table_names()
        assert _versions(store) == list(range(1, len(MIGRATIONS) + 1))


def test_a_database_newer_than_the_code_is_refused(db_url: str) -> None:
    with Store(db_url) as store, store.engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO schema_migrations (version, applied_at) VALUES (99, CURRENT_TIMESTAMP)")
        )
    with pytest.raises(StoreError, match=r"schema version 99, newer than this keibi knows"):
        Store(db_url)


def test_for_data_dir_creates_the_directory(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b"
    with Store.for_data_dir(data) as store:
        assert store.migrated
    assert (data / "keibi.db").is_file()
