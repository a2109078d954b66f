"""``keibi serve``: the app under uvicorn, JSON logs on stderr, graceful shutdown.

uvicorn stops on SIGINT/SIGTERM by refusing new connections and letting requests in flight
finish (at most ``GRACE_SECONDS``), then the app's lifespan closes the store.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Final

import orjson
import uvicorn

from keibi.api.app import create_app
from keibi.config import Config
from keibi.store import Store

GRACE_SECONDS: Final = 10
_FIELDS: Final = ("request_id", "operation", "status", "account", "region", "ms")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **{k: getattr(record, k) for k in _FIELDS if hasattr(record, k)},
        }
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info)
        return orjson.dumps(line).decode()


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class _Server(uvicorn.Server):
    """uvicorn's server, ending with exit status 0 after a graceful stop: uvicorn re-raises the
    signal it caught once it has shut down, which reports a clean stop as death by SIGTERM."""

    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def serve(
    config: Config,
    *,
    host: str | None = None,
    port: int | None = None,
    background: Callable[[Store, threading.Event], None] | None = None,
) -> None:
    """Serve GuardDuty's API until interrupted (with ``background``, the watch loop, beside it)."""
    configure_logging()
    server = _Server(
        uvicorn.Config(
            create_app(config, background=background),
            host=host or config.server.host,
            port=port or config.server.port,
            log_config=None,
            access_log=False,
            http="httptools",
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
    )
    server.run()
    logging.getLogger("keibi.api").info("stopped")
