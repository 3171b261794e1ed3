"""Rate limiting: token buckets in process memory, and the per-address limit of anonymous
routes.

Being in process, a limit costs no Redis round trip (a cached read stays I/O-free); the
price is that it is per process — with N processes a client gets up to N × the rate, which
docs/security.md states. The buckets are an LRU map bounded by ``max_clients``: an
address or key pushed out (by 100,000 others) starts again with a full burst.

``RateLimitMiddleware`` limits requests per client address on the routes that need no key
(the query API's catalogue); routes that need one are limited per key after the key is
checked, and per address on failed authentications (``shared.http.auth_limits``). Over a
limit: ``429 rate_limited`` with ``Retry-After``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cachetools import LRUCache
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_response


class TokenBuckets:
    def __init__(
        self, rate: float, burst: int, max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: LRUCache[bytes, list[float]] = LRUCache(max_clients)  # [tokens, updated]

    def _tokens(self, client: bytes, now: float) -> list[float]:
        bucket = self._buckets.get(client)
        if bucket is None:
            bucket = self._buckets[client] = [float(self.burst), now]
        else:
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        return bucket

    def take(self, client: bytes) -> float:
        """0 if allowed (a token taken), else the seconds until a token is available."""
        bucket = self._tokens(client, self.clock())
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return 0.0
        return (1.0 - bucket[0]) / self.rate if self.rate > 0 else math.inf

    def wait(self, client: bytes) -> float:
        """Like ``take`` but takes nothing: 0 while a token is there."""
        bucket = self._buckets.get(client)
        if bucket is None:
            return 0.0
        tokens = min(self.burst, bucket[0] + (self.clock() - bucket[1]) * self.rate)
        if tokens >= 1.0:
            return 0.0
        return (1.0 - tokens) / self.rate if self.rate > 0 else math.inf

    def charge(self, client: bytes) -> None:
        """Take a token whether or not one is there (never below zero): a cost already paid."""
        bucket = self._tokens(client, self.clock())
        bucket[0] = max(0.0, bucket[0] - 1.0)


def client_address(scope: Scope) -> bytes:
    """The peer's address (the client's behind a proxy only when uvicorn is told to trust
    its ``X-Forwarded-For``: ``--proxy-headers --forwarded-allow-ips``)."""
    client = scope.get("client")
    return client[0].encode() if client else b"?"


def retry_after(wait: float) -> str:
    """Whole seconds, at least 1 (an hour for a budget that never refills)."""
    return str(3600 if math.isinf(wait) else max(1, math.ceil(wait)))


def too_many(wait: float, message: str = "Too many requests; slow down.") -> Response:
    return error_response(429, "rate_limited", message, headers={"Retry-After": retry_after(wait)})


class RateLimitMiddleware:
    """A bucket per client address, for every path but ``/health/*`` and ``keyed`` ones."""

    def __init__(self, app: ASGIApp, rate: float, burst: int, keyed: Callable[[str], bool] = lambda path: False):
        self.app, self.keyed = app, keyed
        self.buckets = TokenBuckets(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health/") or self.keyed(scope["path"]):
            return await self.app(scope, receive, send)
        wait = self.buckets.take(b"ip:" + client_address(scope))
        if wait:
            return await too_many(wait)(scope, receive, send)
        await self.app(scope, receive, send)
