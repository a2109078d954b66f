"""``keibi serve`` as a real process, and boto3 clients signed with keys it knows.

The tests drive the server only the way users do: over HTTP with boto3's ``guardduty``
client. Accounts and scans go straight to the same store (SQLite file or PostgreSQL schema)
the server reads, as ``keibi accounts create`` and ``keibi scan`` would put them there.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSPreparedRequest
from botocore.config import Config as BotoConfig

from keibi.store import Store
from keibi.store.accounts import AccessKey, create_key
from tests.dbs import postgres_url, sqlite_url

START_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class KeibiServer:
    """A running ``keibi serve`` on 127.0.0.1 over ``store_url``."""

    store_url: str
    data_dir: Path
    url: str = ""
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    _store: Store | None = field(default=None, repr=False)

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = {
            **os.environ,
            "KEIBI_DATA_DIR": str(self.data_dir),
            "KEIBI_DATABASE_URL": self.store_url,
            # the tests' lists are local files; the default ([server] list_locations) is s3 and https only
            "KEIBI_SERVER_LIST_LOCATIONS": "s3,https,http,file",
        }
        env.pop("KEIBI_CONFIG", None)  # the caller's own, not one a test passes in extra_env
        env.update(extra_env or {})
        self.log = self.data_dir / f"serve-{port}.log"
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "keibi.cli", "serve", "--port", str(port)],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"keibi serve exited: {self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"keibi serve did not start in {START_SECONDS}s: {self.log.read_text()}")

    def stop(self) -> int | None:
        if self.process is None:
            return None
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.store_url)
        return self._store

    def account(self, account_id: str | None = None) -> AccessKey:
        """A new access key, for a new random account unless ``account_id`` is given."""
        return create_key(self.store, account_id)

    def client(self, key: AccessKey, region: str = "us-east-1", **config: Any) -> Any:
        return boto3.client(
            "guardduty",
            endpoint_url=self.url,
            region_name=region,
            aws_access_key_id=key.access_key_id,
            aws_secret_access_key=key.secret_access_key,
            config=BotoConfig(retries={"max_attempts": 1}, **config),
        )


@contextmanager
def serving(database: str, data_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[KeibiServer]:
    """A ``keibi serve`` over a fresh ``database`` ("sqlite" or "postgres"), stopped afterwards."""
    with contextlib.ExitStack() as stack:
        url = sqlite_url(data_dir) if database == "sqlite" else stack.enter_context(postgres_url())
        server = KeibiServer(url, data_dir)
        server.start(extra_env)
        try:
            yield server
        finally:
            server.stop()
            if server._store is not None:
                server._store.close()


def captured(client: Any, operation: str, **params: Any) -> AWSPreparedRequest:
    """The request ``client`` signs for ``operation`` (a method name), captured instead of sent."""
    requests: list[AWSPreparedRequest] = []

    class Captured(Exception):
        pass

    def capture(request: AWSPreparedRequest, **_: Any) -> None:
        requests.append(request)
        raise Captured

    client.meta.events.register("before-send.guardduty.*", capture)
    try:
        getattr(client, operation)(**params)
    except Captured:
        return requests[0]
    finally:
        client.meta.events.unregister("before-send.guardduty.*", capture)
    raise AssertionError(f"{operation} sent nothing")
