"""A real HTTP server on 127.0.0.1 for fetch and refresh tests: routes with ETag and
Last-Modified (answering conditional requests with 304), gzip, delays, slow drips, redirects
and error statuses. It records every request, so tests can check what the client sent."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """What the server answers on one path. ``gzip`` compresses ``body`` on the wire
    (``Content-Encoding: gzip``); ``delay`` waits before answering; ``drip`` sends the body in
    ``drip_chunks`` parts with that pause between them; ``length=False`` leaves out
    Content-Length (the body then ends when the connection closes)."""

    body: bytes = b""
    status: int = 200
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    delay: float = 0.0
    drip: float = 0.0
    drip_chunks: int = 10
    length: bool = True
    location: str | None = None  # for 3xx
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]


class FeedServer:
    """Serves :class:`Route` s; ``url(path)`` is the address of one."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                    return
                if route.delay:
                    time.sleep(route.delay)
                if _not_modified(route, self.headers):
                    self.send_response(304)
                    if route.etag:
                        self.send_header("ETag", route.etag)
                    self.end_headers()
                    return
                body = gzip.compress(route.body, mtime=0) if route.gzip else route.body
                self.send_response(route.status)
                if route.location:
                    self.send_header("Location", route.location)
                if route.etag:
                    self.send_header("ETag", route.etag)
                if route.last_modified:
                    self.send_header("Last-Modified", route.last_modified)
                if route.gzip:
                    self.send_header("Content-Encoding", "gzip")
                if route.length:
                    self.send_header("Content-Length", str(len(body)))
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                if not route.drip:
                    self.wfile.write(body)
                    return
                step = max(1, len(body) // route.drip_chunks)
                for start in range(0, len(body), step):
                    self.wfile.write(body[start : start + step])
                    self.wfile.flush()
                    time.sleep(route.drip)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            block_on_close = False

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that gave up (timeout, size limit) is expected here

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _not_modified(route: Route, headers: Any) -> bool:
    match = headers.get("If-None-Match")
    if match is not None and route.etag is not None:
        return route.etag in [tag.strip() for tag in match.split(",")]
    since = headers.get("If-Modified-Since")
    if since is not None and route.last_modified is not None:
        try:
            return parsedate_to_datetime(route.last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
