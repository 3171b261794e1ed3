"""The ops surface: ``GET /metrics`` (Prometheus text format) and the memory monitor's
endpoints, served by the ops listener (``shared.observability.ops_listener``), never on an
API's public port.

    GET    /metrics                this process's metrics (every worker's, multi-process)
    GET    /ops/memory?top=10      health, RSS, trend, samples, top allocation sites
    POST   /ops/memory/tracing     start tracemalloc and take the baseline snapshot
    DELETE /ops/memory/tracing     stop tracemalloc

With ``MERCHANT_OPS_TOKEN`` set, every route of the ops surface but ``/health/*`` needs
``Authorization: Bearer <token>`` (``OpsTokenMiddleware``; compared in constant time);
without it the surface is open to whoever reaches its address, which is why the listener
binds to 127.0.0.1 by default and production refuses a wider address without a token
(``shared.production``).
"""

from __future__ import annotations

import hmac
import os
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import ApiError, error_response
from shared.observability.memory import MemoryMonitor
from shared.observability.settings import ObservabilitySettings

UNGUARDED = ("/health/",)  # probes: a load balancer or orchestrator carries no token


def render_metrics() -> bytes:
    """This process's metrics, or every worker's when running multi-process."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


async def metrics_endpoint(request: Request) -> Response:
    return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


class OpsTokenMiddleware:
    """``401 unauthenticated`` unless the request carries the ops token (when one is set)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(UNGUARDED):
            return await self.app(scope, receive, send)
        supplied = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        if not hmac.compare_digest(supplied, self.expected):
            response = error_response(
                401,
                "unauthenticated",
                "The ops surface needs 'Authorization: Bearer <MERCHANT_OPS_TOKEN>'.",
                headers={"WWW-Authenticate": "Bearer"},
            )
            return await response(scope, receive, send)
        await self.app(scope, receive, send)


def ops_routes(settings: ObservabilitySettings) -> list[Route]:
    def monitor(request: Request) -> MemoryMonitor:
        monitors = getattr(request.state, "monitors", None)
        if monitors is None:
            raise ApiError(503, "monitor_not_running", "The memory monitor is not running.")
        memory: MemoryMonitor = monitors.memory
        return memory

    async def memory_report(request: Request) -> Response:
        raw = request.query_params.get("top", "10")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
            raise ApiError(
                422,
                "validation_failed",
                "top must be an integer.",
                fields=[{"field": "top", "message": "not an integer"}],
            )
        return _json(monitor(request).report(min(max(int(raw), 1), 100)))

    async def tracing(request: Request) -> Response:
        memory = monitor(request)
        if request.method == "POST":
            memory.start_tracing()
        else:
            memory.stop_tracing()
        return _json({"tracing": memory.tracing})

    return [
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/ops/memory", memory_report, methods=["GET"]),
        Route("/ops/memory/tracing", tracing, methods=["POST", "DELETE"]),
    ]
