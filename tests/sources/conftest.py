"""Fixtures for the sources tests: the sample files, and a real S3 API (moto's server mode)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keibi.sources import SCHEMAS, Report, SourceName, plan, read

FILES = Path(__file__).resolve().parent / "files"


@pytest.fixture(scope="session")
def files() -> Path:
    return FILES


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
