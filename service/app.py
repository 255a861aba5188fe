"""``create_app(settings)``: the resources made in ``lifespan``, the routers, the error handler."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.telemetry import TelemetryConfig
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import api, batch_api, web
from service.access import Access, KeyGuard, KeyRing, RateLimiter
from service.backend import build_summarizer, open_coordination, open_store, prepare_schema
from service.batch_store import BatchStore
from service.batches import Batches, BatchJobs
from service.config import Settings
from service.errors import (
    BodyTooLarge,
    DatabaseDamaged,
    InvalidInput,
    MalformedRequest,
    SchemaOutOfDate,
    SummarizerError,
)
from service.fetch import Resolver
from service.logs import configure_logging, current_request_id, log_access
from service.metrics import Metrics
from service.queue import InProcessEngine, ProcrastinateEngine
from service.store import Store
from service.webhooks import Webhooks

log = logging.getLogger("service.app")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def error_response(exc: SummarizerError, request_id: str | None) -> Response:
    headers = {}  # X-Request-ID is added to every response by RequestContext
    if exc.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(exc.retry_after)))
    body = {"error": {"code": exc.code, "message": exc.message, "request_id": request_id}}
    return Response(orjson.dumps(body), exc.status, headers, media_type="application/json")


# FastAPI's native OpenTelemetry, off: it asked the global providers whether any was set up on
# every request.
_NO_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class RequestContext:
    """Request id, the body-size limit (checked before anything is buffered), one access-log
    line and the request's metrics."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        metrics: Metrics | None = None,
        larger_bodies: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.metrics = metrics
        # Paths that take larger bodies (a batch of articles) than the default limit.
        self.larger = larger_bodies or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = b""
        length = b""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value
            elif name == b"content-length":
                length = value
        request_id = given.decode("latin-1")
        if not (request_id and _REQUEST_ID.match(request_id)):
            request_id = os.urandom(16).hex()  # as uuid4().hex, without building a UUID
        scope.setdefault("state", {})["request_id"] = request_id
        current_request_id.set(request_id)
        status = 500
        responded = False
        id_header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status = message["status"]
                responded = True
                message["headers"] = [*message["headers"], id_header]
            await send(message)

        try:
            declared = int(length or 0)
        except ValueError:
            declared = 0
        limit = self.larger.get(scope["path"], self.max_body)
        if declared > limit:
            await error_response(self._too_large(limit), request_id)(scope, receive, send_with_id)
        else:
            received = 0

            async def limited_receive() -> Message:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:
                        # The framework may turn this into a generic 400; the flag lets the
                        # error handler answer 413 instead.
                        scope["state"]["body_too_large"] = True
                        raise self._too_large(limit)
                return message

            try:
                await self.app(scope, limited_receive, send_with_id)
            except SummarizerError as exc:
                # Raised before the app answered: the body limit above, or the key guard.
                if responded:
                    raise
                await error_response(exc, request_id)(scope, receive, send_with_id)
        seconds = time.perf_counter() - started
        state = scope["state"]
        method, path, cache = scope["method"], scope["path"], state.get("cache")
        log_access(
            method,
            path,
            status,
            {
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "cache": cache,
                "api_key": state.get("api_key"),
            },
        )
        if self.metrics is not None:
            route = state.get("route") or _route_of(scope)
            method = method if method in _METHODS else "other"
            self.metrics.request(method, route, status, seconds, cache)

    def _too_large(self, limit: int) -> BodyTooLarge:
        return BodyTooLarge(f"request body is over the {limit:,}-byte limit")


def _route_of(scope: Scope) -> str:
    """The route template a request was answered by, for the metrics' ``route`` label: never
    the path itself, which a client could make unique every time."""
    route = scope.get("route")  # set by FastAPI when it routed the request
    if route is None:  # refused before routing (a key, a rate, a size): find where it led
        app = scope.get("app")
        route = _matching(getattr(getattr(app, "router", None), "routes", []), scope)
    return getattr(route, "path", None) or "unmatched"


def _matching(routes: list[BaseRoute], scope: Scope) -> BaseRoute | None:
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included in the app
        if included is not None:
            found = _matching(included.routes, scope)
            if found is not None:
                return found
        elif route.matches(scope)[0] != Match.NONE:
            return route
    return None


def _install_error_handlers(app: FastAPI) -> None:
    def rid(request: Request) -> str | None:
        return request.scope.get("state", {}).get("request_id")

    @app.exception_handler(SummarizerError)
    async def on_domain_error(request: Request, exc: SummarizerError) -> Response:
        return error_response(exc, rid(request))

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(MalformedRequest("the body is not valid JSON"), rid(request))
        parts = []
        for e in errors[:5]:
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
            parts.append(f"{where or 'body'}: {e.get('msg')}")
        malformed = any(e.get("type") in {"model_attributes_type", "dict_type"} for e in errors)
        kind = MalformedRequest if malformed else InvalidInput
        return error_response(kind("; ".join(parts)), rid(request))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, exc: StarletteHTTPException) -> Response:
        if request.scope.get("state", {}).get("body_too_large"):
            return error_response(BodyTooLarge("request body is over the size limit"), rid(request))
        err = SummarizerError(str(exc.detail))
        err.status = exc.status_code
        err.code = {
            400: "malformed_request",
            404: "not_found",
            405: "method_not_allowed",
            413: "body_too_large",
        }.get(exc.status_code, "http_error")
        response = error_response(err, rid(request))
        if exc.status_code == 405:  # name every method the path serves, not one route's
            response.headers["Allow"] = ", ".join(_methods_for(app.routes, request.scope))
        return response

    @app.exception_handler(Exception)
    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", extra={"request_id": rid(request)})
        return error_response(SummarizerError("internal error"), rid(request))


def create_app(
    settings: Settings | None = None,
    *,
    llm_transport: httpx.AsyncBaseTransport | None = None,
    fetch_resolver: Resolver | None = None,
    webhook_resolver: Resolver | None = None,
) -> FastAPI:
    """Build the app. ``llm_transport`` replaces the model backend's HTTP transport, and
    ``fetch_resolver`` (``webhook_resolver``) the name lookup of URLs the service fetches
    (calls) (tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        state.settings = settings
        state.ready = False
        state.not_ready_reason = "loading the model"
        store = open_store(settings)
        try:
            await asyncio.to_thread(store.verify_integrity)
            await asyncio.to_thread(prepare_schema, store, settings)
        except (DatabaseDamaged, SchemaOutOfDate) as exc:
            log.critical("not starting: %s", exc.message)
            store.engine.dispose()
            raise
        keys = KeyRing(settings.api_key_list, store.key_digests)
        await asyncio.to_thread(keys.load)
        coordination = await asyncio.to_thread(open_coordination, settings, store)
        state.coordination = coordination
        state.access = Access(
            keys,
            RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst, coordination),
        )
        state.store = store
        state.batches = await _open_batches(settings, store, metrics, webhook_resolver)
        loader = asyncio.create_task(_load_backend(app, settings, llm_transport, fetch_resolver))
        try:
            yield
        finally:
            loader.cancel()
            await state.batches.engine.aclose()
            await state.batches.webhooks.aclose()
            summarizer = getattr(state, "summarizer", None)
            if summarizer is not None:
                await summarizer.aclose()
            store.close()
            if coordination is not None:
                coordination.close()
            metrics.close()

    app = FastAPI(
        title="Incident summarizer",
        version="1",
        summary="News article in, strict evidence-backed incident record out, cached.",
        lifespan=lifespan,
        telemetry=None if settings.opentelemetry else _NO_TELEMETRY,
    )
    # Made here rather than in lifespan: the outermost middleware records into it.
    metrics = Metrics.for_process(workers=settings.workers, slots=settings.concurrency)
    app.state.metrics = metrics
    _install_error_handlers(app)
    app.include_router(api.health)
    app.include_router(api.router)
    app.include_router(batch_api.router)
    app.include_router(api.operations)
    app.include_router(web.router)
    # Every path needs a key (when any is configured) but these; KeyGuard explains why.
    open_paths = {route.path for route in api.health.routes} | web.OPEN_PATHS  # type: ignore[attr-defined]
    if settings.metrics_open:
        open_paths |= {route.path for route in api.operations.routes}  # type: ignore[attr-defined]
    app.add_middleware(api.FastLane)  # inside the key guard: hits need a key too
    app.add_middleware(KeyGuard, open_paths=open_paths, open_prefixes=web.OPEN_PREFIXES)
    _declare_security(app, open_paths)
    app.add_middleware(
        RequestContext,
        max_body_bytes=settings.max_body_bytes,
        metrics=metrics,
        larger_bodies={batch_api.BATCHES: settings.batch_max_body_bytes},
    )  # outermost
    return app


async def _open_batches(
    settings: Settings, store: Store, metrics: Metrics, webhook_resolver: Resolver | None
) -> Batches:
    """Batches on this store: run by this process on SQLite (once the model is loaded), by
    ``incident-summarizer worker`` processes on PostgreSQL."""
    batch_store = BatchStore(store.engine)
    metrics.watch_batch_items(batch_store.status_totals)
    engine: InProcessEngine | ProcrastinateEngine
    if store.backend == "postgresql":
        engine = ProcrastinateEngine(store.libpq_url())
        await engine.open()
    else:
        engine = InProcessEngine(batch_store, settings.batch_slots)
    return Batches(settings, batch_store, Webhooks(settings, resolver=webhook_resolver), engine)


def worker_app() -> FastAPI:
    """The app of one worker process of ``incident-summarizer serve --workers N``: settings
    from the environment, the same JSON logging as a single process."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)


def _methods_for(routes: list[BaseRoute], scope: Scope) -> list[str]:
    methods: set[str] = set()
    for route in routes:
        included = getattr(route, "original_router", None)  # a router included in the app
        if included is not None:
            methods.update(_methods_for(included.routes, scope))
        elif route.matches(scope)[0] != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


_ERROR_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "request_id"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "pattern": "^[a-z][a-z_]*$"},
                "message": {"type": "string"},
                "request_id": {"type": ["string", "null"]},
            },
        }
    },
}


def _declare_security(app: FastAPI, open_paths: set[str]) -> None:
    """Tell the OpenAPI document which operations need a key and how to send it, and that
    every error has the one error body (FastAPI would describe its own 422 body)."""
    build = app.openapi
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    unauthorized = {"description": "Missing or invalid API key (when keys are configured)"}
    limited = {
        "description": "Over the key's rate limit",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        schemas["ErrorBody"] = _ERROR_BODY_SCHEMA
        components["securitySchemes"] = {
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "bearer": {"type": "http", "scheme": "bearer"},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if path not in open_paths:
                    operation["security"] = [{"apiKey": []}, {"bearer": []}]
                    responses.setdefault("401", unauthorized)
                    responses.setdefault("429", limited)
                for status, response in responses.items():
                    if status[0] in "45":
                        response["content"] = error
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _load_backend(
    app: FastAPI,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None,
    fetch_resolver: Resolver | None = None,
) -> None:
    """Build the summarizer (``service.backend``); for the bundled model that loads it.

    Runs beside the server so /healthz answers at once and /readyz turns true when done.
    """
    try:
        app.state.summarizer = await build_summarizer(
            settings,
            app.state.store,
            transport=transport,
            fetch_resolver=fetch_resolver,
            coordination=app.state.coordination,
            metrics=app.state.metrics,
        )
        engine = app.state.batches.engine
        if isinstance(engine, InProcessEngine):  # SQLite: this process runs the batches
            batches = app.state.batches
            engine.start(
                BatchJobs(
                    settings,
                    batches.store,
                    app.state.summarizer,
                    batches.webhooks,
                    engine,
                    app.state.metrics,
                )
            )
        app.state.ready = True
        app.state.not_ready_reason = None
        _freeze_startup_objects()
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        app.state.not_ready_reason = f"model backend failed to start: {exc}"
        log.exception("model backend failed to start")


def _freeze_startup_objects() -> None:
    """Move everything built so far out of the garbage collector's sight.

    Imports and start-up leave a few hundred thousand long-lived objects (schemas, the
    OpenAPI model, pycountry's tables, compiled validators). Every full collection walks them
    all, for milliseconds, on the event loop: that was most of the tail latency of a cache
    hit. They live as long as the process, so the collector never needs to look at them.
    """
    gc.collect()
    gc.freeze()
