"""Observability for the Starlette apps: one call in ``create_app``.

    return instrument_http(Starlette(...), "query-api")

adds a pure-ASGI middleware (request count, latency, in-flight, errors per route
template and status; the correlation id of the request in a context variable and the
``X-Correlation-ID`` answer header), and wraps the app's lifespan so the process monitors
(memory, event-loop lag, GC) run while it serves, ``request.state.monitors`` is available
(readiness reads its health), and the ops listener serves ``/metrics`` and ``/ops/memory``
on its own address (``shared.observability.ops_listener``) — not on the app's public port.
In production an ops listener open beyond loopback without a token refuses to start.
"""

from __future__ import annotations

import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.http.correlation import _SAFE as SAFE_CORRELATION_ID
from shared.http.correlation import HEADER as CORRELATION_HEADER
from shared.observability import metrics
from shared.observability.logs import correlation_id_var
from shared.observability.ops_listener import OpsListener, ops_app
from shared.observability.runtime import Monitors
from shared.observability.settings import ObservabilitySettings
from shared.production_checks import open_ops_surface, refuse_unsafe

access_log = logging.getLogger("merchant.access")
_HEADER_BYTES = CORRELATION_HEADER.encode()
UNMATCHED = "<unmatched>"  # one label for every path no route knows: bounded cardinality
# Likewise one label for every method outside these: a client picks the method token, and
# each new one would add a labelled child (and an entry of ``_children``) for good.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "OTHER"


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, service: str, access_log: bool = True) -> None:
        self.app, self.service, self.access_log = app, service, access_log
        self._in_flight = metrics.http_in_flight.labels(service=service)
        # Labelled children by (method, route, status): .labels() costs a lock and a
        # tuple hash per call; the set of keys is bounded by the routes.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def _record(self, method: str, template: str, status: int, elapsed: float) -> None:
        key = (method, template, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                metrics.http_requests.labels(self.service, method, template, str(status)),
                metrics.http_request_duration.labels(self.service, method, template),
            )
        children[0].inc()
        children[1].observe(elapsed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope, corr = _with_correlation_id(scope)
        status = 500
        corr_header = (b"x-correlation-id", corr.encode())

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", [])
                if not any(k.lower() == b"x-correlation-id" for k, _ in headers):
                    message = {**message, "headers": [*headers, corr_header]}
            await send(message)

        in_flight = self._in_flight
        in_flight.inc()
        token = correlation_id_var.set(corr)
        began = time.perf_counter()
        failed: str | None = None
        try:
            await self.app(scope, receive, send_wrapper)
        except BaseException as exc:
            failed = type(exc).__name__
            raise
        finally:
            elapsed = time.perf_counter() - began
            in_flight.dec()
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED
            method = scope["method"]
            if self.access_log:
                access_log.info(
                    "%s %s %d",
                    method,
                    scope["path"],
                    status,
                    extra={
                        "service": self.service,
                        "route": template,
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            correlation_id_var.reset(token)
            self._record(method if method in KNOWN_METHODS else OTHER_METHOD, template, status, elapsed)
            if failed is not None:
                metrics.http_errors.labels(self.service, template, "exception").inc()
            elif status >= 500:
                metrics.http_errors.labels(self.service, template, "5xx").inc()


def new_correlation_id() -> str:
    """32 hex digits (a valid UUID string). Not from os.urandom like uuid4: an id to follow
    a request needs uniqueness, not secrecy, and this costs a tenth of the time."""
    return f"{random.getrandbits(128):032x}"


def _with_correlation_id(scope: Scope) -> tuple[Scope, str]:
    """The request's id if it is safe to log, else a new one written into the headers, so
    ``shared.http.correlation.correlation_id(request)`` downstream sees the same id."""
    for key, value in scope["headers"]:
        if key == _HEADER_BYTES:
            supplied = value.decode("latin-1")
            if SAFE_CORRELATION_ID.match(supplied):
                return scope, supplied
            break
    created = new_correlation_id()
    headers = [(k, v) for k, v in scope["headers"] if k != _HEADER_BYTES]
    headers.append((_HEADER_BYTES, created.encode()))
    return {**scope, "headers": headers}, created


def instrument_http(app: Starlette, service: str, settings: ObservabilitySettings | None = None) -> Starlette:
    settings = settings or ObservabilitySettings()
    ops_port = settings.metrics_port_for(service)
    refuse_unsafe(settings, open_ops_surface(service, settings.metrics_host, ops_port, settings.ops_token))
    inner_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app_: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with Monitors(settings) as monitors:
            listener = OpsListener(ops_app(monitors, settings), settings.metrics_host, ops_port)
            await listener.start()
            try:
                async with inner_lifespan(app_) as state:
                    monitors.started()
                    yield {**(state or {}), "monitors": monitors}
            finally:
                await listener.stop()

    app.router.lifespan_context = lifespan
    app.add_middleware(MetricsMiddleware, service=service, access_log=settings.access_log_enabled)
    return app
