"""Opening a store that cannot be opened gives one StoreError line saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from keibi.errors import StoreError
from keibi.store import MIGRATIONS, Store
from tests.dbs import postgres_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", r"^cannot open store: 'not a url' is not a database URL$"),
        ("mysql://root@localhost/keibi", r"only sqlite:/// and postgresql:// URLs are supported"),
        (
            "postgresql://postgres:secret@127.0.0.1:1/test",
            r"^cannot open store postgresql\+psycopg://postgres:\*\*\*@127\.0\.0\.1:1/test: .+",
        ),
    ],
)
def test_bad_urls_and_unreachable_servers(url: str, message: str) -> None:
    with pytest.raises(StoreError, match=message) as err:
        Store(url)
    assert "\n" not in str(err.value)
    assert "secret" not in str(err.value)


def test_sqlite_in_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(
        StoreError, match=r"^cannot open store sqlite:///.*/missing/keibi\.db: unable to open database file$"
    ):
        Store(f"sqlite:///{tmp_path}/missing/keibi.db")


def test_data_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match=r"cannot create the data directory"):
        Store.for_data_dir(blocker / "data")


def test_plain_postgresql_urls_use_psycopg() -> None:
    with postgres_url() as url:
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with Store(plain) as store:
            assert store.url.drivername == "postgresql+psycopg"
            assert store.engine.dialect.driver == "psycopg"
            assert store.migrated == list(range(1, len(MIGRATIONS) + 1))
