"""Load shedding: at most N requests in flight per process; beyond, ``503`` at once.

Under overload a queue only grows: every request waits longer, clients time out and
retry, and the process ends up doing work nobody waits for. Refusing the excess
immediately (``503 overloaded`` with ``Retry-After: 1``, a few microseconds) keeps the
latency of the admitted requests bounded and tells clients to come back — the load tests'
stress scenario shows it (docs/benchmarks.md). Health probes and ``/metrics`` are never
shed, so an overloaded process is not also taken for a dead one. ``limit`` 0 disables it.
``on_shed(scope)``, if given, is told of each refused request (the query API counts the
cacheable reads it refused into its cache hit ratio).

Pure ASGI, counting in one integer: the event loop is single-threaded, so no lock.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_response

NEVER_SHED = ("/health/", "/metrics")


class LoadSheddingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        retry_after_seconds: int = 1,
        on_shed: Callable[[Scope], None] | None = None,
    ) -> None:
        self.app, self.limit, self.on_shed = app, limit, on_shed
        self.retry_after = str(retry_after_seconds)
        self.in_flight = 0
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or scope["path"].startswith(NEVER_SHED):
            return await self.app(scope, receive, send)
        if self.in_flight >= self.limit:
            self.shed += 1
            if self.on_shed is not None:
                self.on_shed(scope)
            response = error_response(
                503,
                "overloaded",
                "The server is busy; retry after a moment.",
                headers={"Retry-After": self.retry_after},
            )
            return await response(scope, receive, send)
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
