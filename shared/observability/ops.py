"""``GET /metrics`` (Prometheus text format) and the ops endpoints of the memory monitor.

    GET    /ops/memory?top=10      health, RSS, trend, samples, top allocation sites
    POST   /ops/memory/tracing     start tracemalloc and take the baseline snapshot
    DELETE /ops/memory/tracing     stop tracemalloc

``/ops/*`` need ``Authorization: Bearer $MERCHANT_OPS_TOKEN`` when that token is set.
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

from shared.http.errors import ApiError
from shared.observability.memory import MemoryMonitor
from shared.observability.settings import ObservabilitySettings


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


def ops_routes(settings: ObservabilitySettings) -> list[Route]:
    def authorize(request: Request) -> None:
        if not settings.ops_token:
            return
        supplied = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(supplied.encode(), settings.ops_token.encode()):
            raise ApiError(401, "unauthenticated", "The ops endpoints need the ops token.")

    def monitor(request: Request) -> MemoryMonitor:
        monitors = getattr(request.state, "monitors", None)
        if monitors is None:
            raise ApiError(503, "monitor_not_running", "The memory monitor is not running.")
        memory: MemoryMonitor = monitors.memory
        return memory

    async def memory_report(request: Request) -> Response:
        authorize(request)
        try:
            top = min(max(int(request.query_params.get("top", "10")), 1), 100)
        except ValueError:
            raise ApiError(
                422,
                "validation_failed",
                "top must be an integer.",
                fields=[{"field": "top", "message": "not an integer"}],
            ) from None
        return _json(monitor(request).report(top))

    async def tracing(request: Request) -> Response:
        authorize(request)
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
