"""A real webhook receiver for tests: an HTTP server on 127.0.0.1 in a thread, recording what
keibi posts. It can refuse the first requests (503) or answer slowly, as real receivers do."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

import orjson


class Webhook:
    def __init__(self, *, fail_first: int = 0, status: int = 503, delay: float = 0.0) -> None:
        self.fail_first = fail_first
        self.status = status
        self.delay = delay
        self.received: list[tuple[dict[str, str], bytes]] = []  # accepted requests
        self.refused = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver._lock:
                    refuse = receiver.refused < receiver.fail_first
                    if refuse:
                        receiver.refused += 1
                    else:
                        receiver.received.append((dict(self.headers), body))
                self.send_response(receiver.status if refuse else 200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Webhook:
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [orjson.loads(body) for _, body in self.received]

    def event_ids(self) -> list[str]:
        return [e["id"] for e in self.events()]

    def wait_for(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        """The events once at least ``n`` have arrived (or what came before ``timeout``)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and len(self.received) < n:
            time.sleep(0.02)
        return self.events()
