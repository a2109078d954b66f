"""Shared fixtures: the team's reference datasets, a store on SQLite and on the real PostgreSQL,
and a real S3 API (moto's server mode)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keibi.store import Store
from tests.dbs import postgres_url, sqlite_url

SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(scope="session")
def datasets() -> Path:
    path = SHARED / "datasets"
    assert path.is_dir(), f"the shared datasets are missing: {path}"
    return path


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, str]:
    """A fresh bucket on the moto server; the environment points boto3 at it as a user would."""
    import boto3

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3")
    bucket = f"logs-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


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
    """A store on ``db_url``: the test runs on SQLite and on PostgreSQL."""
    opened = Store(db_url)
    try:
        yield opened
    finally:
        opened.close()
