"""Liveness and readiness endpoints.

``/health/live`` answers while the process runs. ``/health/ready`` runs every check
concurrently and answers 503 when a *required* one fails, so a load balancer stops
sending traffic until the servers are back. An *optional* check (a cache the process
can serve without) is reported as ``degraded`` but keeps the process ready.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Check = Callable[[Request], Awaitable[bool]]


def health_routes(
    required: dict[str, Check], optional: dict[str, Check] | None = None, timeout: float = 2.0
) -> list[Route]:
    optional = optional or {}
    checks = {**required, **optional}

    async def live(request: Request) -> Response:
        return Response(b'{"status":"live"}', media_type="application/json")

    async def ready(request: Request) -> Response:
        async def run(check: Check) -> bool:
            try:
                return await asyncio.wait_for(check(request), timeout)
            except Exception:
                return False

        results = await asyncio.gather(*(run(c) for c in checks.values()))
        report = {
            name: ("ok" if ok else ("degraded" if name in optional else "failing"))
            for name, ok in zip(checks, results, strict=True)
        }
        ready_ = all(ok for name, ok in zip(checks, results, strict=True) if name in required)
        monitors = getattr(request.state, "monitors", None)  # shared.observability
        if monitors is not None:  # memory: "warning" on a suspected leak, not ready above the limit
            report["memory"] = monitors.memory.health
            ready_ = ready_ and monitors.memory.health != "critical"
        body = {"status": "ready" if ready_ else "not_ready", "checks": report}
        return Response(orjson.dumps(body), status_code=200 if ready_ else 503, media_type="application/json")

    return [Route("/health/live", live, methods=["GET"]), Route("/health/ready", ready, methods=["GET"])]
