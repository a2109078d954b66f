"""The ASGI app: GuardDuty's API on its own paths, keibi's extras under ``/keibi/v1``, plus
``/healthz`` and Prometheus ``/metrics``.

Every GuardDuty request goes the same way: body read (at most ``max_request_bytes``) →
Signature V4 verified → route found in botocore's model → input validated → handler run in a
worker thread (the store is synchronous SQLAlchemy) → wire JSON out, or an error in
GuardDuty's shape. One JSON log line per request says who called what, how it ended and how
long it took.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from fastapi import FastAPI, HTTPException
from fastapi import Request as FastAPIRequest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from keibi import __version__
from keibi.api import ops
from keibi.api.auth import AuthError, Caller, Verifier
from keibi.api.call import Call
from keibi.api.protocol import (
    ApiError,
    bad_request,
    find_route,
    internal_error,
    read_request,
    unsupported_reason,
)
from keibi.config import Config, ServerConfig
from keibi.errors import KeibiError
from keibi.status import StatusCollector
from keibi.store import Store
from keibi.store.accounts import find_key
from keibi.store.client_tokens import remember, remembered, request_hash
from keibi.store.members import visible_accounts

log = logging.getLogger("keibi.api")

METHODS: Final = ["GET", "POST", "PUT", "DELETE", "PATCH"]
DRAIN_BYTES: Final = 16 << 20  # an oversized body up to this size is read and dropped before the 400


@dataclass
class _Metrics:
    registry: CollectorRegistry
    requests: Counter
    seconds: Histogram

    @classmethod
    def create(cls) -> _Metrics:
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "keibi_api_requests",
                "GuardDuty API requests answered, by operation and HTTP status.",
                ["operation", "status"],
                registry=registry,
            ),
            seconds=Histogram(
                "keibi_api_request_seconds",
                "Time to answer a GuardDuty API request, by operation.",
                ["operation"],
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            ),
        )


@dataclass
class ApiState:
    """What the app holds for its lifetime."""

    store: Store
    verifier: Verifier
    handlers: dict[str, ops.Handler]
    max_request_bytes: int
    metrics: _Metrics
    clock: Callable[[], datetime]
    settings: ServerConfig


def _error(err: ApiError, request_id: str) -> Response:
    return Response(
        orjson.dumps(err.body()),
        status_code=err.status,
        media_type="application/json",
        headers={"x-amzn-ErrorType": err.code, "x-amzn-RequestId": request_id},
    )


async def _body(request: Request, limit: int) -> bytes:
    """The request body, or a 400 when it is larger than ``limit``. An oversized body is read
    to its end (up to ``DRAIN_BYTES``) and dropped before the answer, so the client, still
    sending, reads a 400 rather than a broken connection; beyond that the connection is cut."""
    too_big = bad_request(f"The request is rejected because its body is larger than {limit} bytes.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > DRAIN_BYTES:
        raise too_big
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > DRAIN_BYTES:
            raise too_big
        if size <= limit:
            chunks.append(chunk)
    if size > limit:
        raise too_big
    return b"".join(chunks)


async def _authenticate(state: ApiState, request: Request, body: bytes) -> Caller:
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        return await run_in_threadpool(
            state.verifier.verify,
            request.method,
            raw_path.decode("latin-1"),
            query,
            {k.lower(): v for k, v in request.headers.items()},
            body,
        )
    except AuthError as exc:
        raise ApiError(exc.code, exc.message, exc.status, exc.code) from None


def _idempotent(handler: ops.Handler, call: Call) -> Any:
    """Run ``handler``; a Create carrying a ``clientToken`` already answered (a retry) gets the
    first answer again (``keibi.store.client_tokens``)."""
    token = call.params.get("clientToken") if call.operation.startswith("Create") else None
    if not token:
        return handler(call)
    where = (call.store, call.caller.account_id, call.caller.region, call.operation, str(token))
    known = remembered(*where, call.now)
    if known is not None:
        if known.request_hash != request_hash(call.params):
            raise bad_request("The clientToken was already used with other parameters; use a new one.")
        return known.response
    result = handler(call)
    remember(*where, call.params, result, call.now)
    return result


async def guardduty(request: Request) -> Response:
    """Any GuardDuty operation: see the module docstring for the steps."""
    state: ApiState = request.app.state.api
    request_id = str(uuid.uuid4())
    started = time.perf_counter()
    operation, caller = "unknown", None
    try:
        body = await _body(request, state.max_request_bytes)
        caller = await _authenticate(state, request, body)
        raw_path = (request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
        found = find_route(request.method, raw_path)
        if found is None:
            raise ApiError("UnknownOperationException", "The requested operation does not exist.", 404)
        route, path_params = found
        operation = route.operation.name
        handler = state.handlers.get(operation)
        if handler is None:
            raise bad_request(unsupported_reason(operation))
        try:
            parsed = orjson.loads(body) if body.strip() else None
        except orjson.JSONDecodeError:
            raise bad_request("The request body is not valid JSON.") from None
        params = read_request(
            route, path_params, request.scope.get("query_string", b"").decode(), request.headers, parsed
        )
        call = Call(operation, params, caller, state.store, state.clock(), request_id, state.settings)
        result = await run_in_threadpool(_idempotent, handler, call)
        status = route.status
        response = Response(
            b"" if status == 204 else orjson.dumps(result),
            status_code=status,
            media_type="application/json",
            headers={"x-amzn-RequestId": request_id},
        )
    except ApiError as err:
        if caller is not None:  # a refused request may be sent again as it was: not a replay
            state.verifier.release(request.headers)
        response = _error(err, request_id)
    except KeibiError as exc:
        log.error("request %s (%s) failed: %s", request_id, operation, exc)
        response = _error(internal_error(request_id), request_id)
    except Exception:
        log.exception("request %s (%s) failed", request_id, operation)
        response = _error(internal_error(request_id), request_id)
    elapsed = time.perf_counter() - started
    state.metrics.requests.labels(operation, str(response.status_code)).inc()
    state.metrics.seconds.labels(operation).observe(elapsed)
    log.info(
        "request",
        extra={
            "request_id": request_id,
            "operation": operation,
            "status": response.status_code,
            "account": caller.account_id if caller else None,
            "region": caller.region if caller else None,
            "ms": round(elapsed * 1000, 2),
        },
    )
    return response


def create_app(
    config: Config,
    *,
    store: Store | None = None,
    background: Callable[[Store, threading.Event], None] | None = None,
) -> FastAPI:
    """The app for ``config``; ``store`` (else ``config.store_url``) is opened for the app's
    lifetime and closed when it shuts down. ``background`` (the watch loop) runs in a thread
    for as long as the app, told to stop by its event when the app shuts down."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = store or (
            Store(config.store_url) if config.database_url else Store.for_data_dir(config.data_dir)
        )
        metrics = _Metrics.create()
        metrics.registry.register(StatusCollector(opened))
        stop = threading.Event()
        worker = (
            threading.Thread(target=background, args=(opened, stop), name="keibi-watch", daemon=True)
            if background is not None
            else None
        )
        app.state.api = ApiState(
            store=opened,
            verifier=Verifier(
                lambda key: find_key(opened, key),
                max_skew=timedelta(seconds=config.server.max_clock_skew_seconds),
            ),
            handlers=ops.load(),
            max_request_bytes=config.server.max_request_bytes,
            metrics=metrics,
            clock=lambda: datetime.now(UTC),
            settings=config.server,
        )
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=60)
            if store is None:
                opened.close()

    app = FastAPI(
        title="keibi",
        version=__version__,
        summary="keibi's own endpoints; GuardDuty's API is served on its own paths (use boto3).",
        lifespan=lifespan,
    )

    @app.get("/healthz", tags=["operations"])
    def healthz() -> dict[str, str]:
        """Liveness, and a store that answers with keibi's tables (not merely a reachable server)."""
        state: ApiState = app.state.api
        try:
            with state.store.transaction("check health", read=True) as conn:
                conn.exec_driver_sql("SELECT count(*) FROM schema_migrations")
        except KeibiError as exc:
            raise HTTPException(503, str(exc)) from None
        return {"status": "ok", "version": __version__}

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def metrics() -> Response:
        """Prometheus metrics: requests by operation and status, latency histograms."""
        state: ApiState = app.state.api
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/keibi/v1/detectors", tags=["keibi"])
    def catalogue() -> dict[str, Any]:
        """keibi's detectors and the GuardDuty finding types each implements (coverage)."""
        from keibi.detect import detectors
        from keibi.detect.catalogue import coverage

        return coverage(detectors.load(), None)

    @app.get("/keibi/v1/findings/{finding_id}/evidence", tags=["keibi"])
    async def evidence(finding_id: str, request: FastAPIRequest) -> Response:
        """The raw log records behind a finding (file, line, event id, time), newest first.
        Signed like any GuardDuty request; only a finding the caller may see is answered."""
        state: ApiState = app.state.api
        request_id = str(uuid.uuid4())
        try:
            caller = await _authenticate(state, request, await _body(request, state.max_request_bytes))
            result = await run_in_threadpool(_evidence, state.store, caller, finding_id)
        except ApiError as err:
            return _error(err, request_id)
        return JSONResponse(result, headers={"x-amzn-RequestId": request_id})

    app.add_route("/{path:path}", guardduty, methods=METHODS, include_in_schema=False)
    return app


def _evidence(store: Store, caller: Caller, finding_id: str) -> dict[str, Any]:
    found = store.get_findings([finding_id])
    visible = visible_accounts(store, caller.account_id, caller.region)
    if not found or found[0].get("accountId") not in visible or found[0].get("region") != caller.region:
        raise bad_request(f"The request is rejected because the finding {finding_id} was not found.")
    return {
        "findingId": finding_id,
        "evidence": [
            {
                "file": e.file,
                "line": e.line,
                "eventId": e.event_id,
                "eventTime": e.event_time.isoformat().replace("+00:00", "Z"),
            }
            for e in store.evidence(finding_id)
        ],
    }
