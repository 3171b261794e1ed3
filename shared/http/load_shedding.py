"""Load shedding: at most N requests in flight per process; beyond, ``503`` at once.

Under overload a queue only grows: every request waits longer, clients time out and
retry, and the process ends up doing work nobody waits for. Refusing the excess
immediately (``503 overloaded`` with ``Retry-After: 1``, a few microseconds) keeps the
latency of the admitted requests bounded and tells clients to come back — the load tests'
stress scenario shows it (docs/benchmarks.md). Health probes and ``/metrics`` are never
shed, so an overloaded process is not also taken for a dead one. ``limit`` 0 disables it.
``on_shed(scope)``, if given, is told of each refused request (the query API counts the
cacheable reads it refused into its cache hit ratio).

**Tenant-fair.** With ``tenant_of`` (the API key a request carries: ``bearer_tenant``),
once half the slots are taken a tenant that already holds its ``share`` (a quarter of the
slots unless told) is shed first: one merchant's burst — or clients trickling their
bodies on one key — can take at most half of the slots plus its share, and the rest stays
for everybody else. Requests without a key count against the global limit only (they are
refused at authentication, before any slow work). Nothing is looked up: the key is the
raw header, and a tenant's counter exists only while it has requests in flight, so the
map is bounded by ``limit``.

Pure ASGI, counting in integers: the event loop is single-threaded, so no lock.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_response

NEVER_SHED = ("/health/", "/metrics")
TenantOf = Callable[[Scope], bytes | None]


def bearer_tenant(scope: Scope) -> bytes | None:
    """The ``Authorization`` header's value: one tenant per API key."""
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            return bytes(value)
    return None


class LoadSheddingMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        retry_after_seconds: int = 1,
        on_shed: Callable[[Scope], None] | None = None,
        tenant_of: TenantOf | None = None,
        share: int | None = None,
    ) -> None:
        self.app, self.limit, self.on_shed = app, limit, on_shed
        self.retry_after = str(retry_after_seconds)
        self.tenant_of, self.share = tenant_of, share or max(1, limit // 4)
        self.in_flight = 0
        self.by_tenant: dict[bytes, int] = {}
        self.shed = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or scope["path"].startswith(NEVER_SHED):
            return await self.app(scope, receive, send)
        tenant = self.tenant_of(scope) if self.tenant_of is not None else None
        if self.in_flight >= self.limit or (tenant is not None and self._over_share(tenant)):
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
        if tenant is not None:
            self.by_tenant[tenant] = self.by_tenant.get(tenant, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
            if tenant is not None:
                self._leave(tenant)

    def _over_share(self, tenant: bytes) -> bool:
        return self.in_flight >= self.limit // 2 and self.by_tenant.get(tenant, 0) >= self.share

    def _leave(self, tenant: bytes) -> None:
        held = self.by_tenant[tenant] - 1
        if held:
            self.by_tenant[tenant] = held
        else:
            del self.by_tenant[tenant]
