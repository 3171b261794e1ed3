"""Rate limiting: a token bucket per client, in process memory.

Keyed by the bearer key on merchant routes and by client address elsewhere. Being in
process, it costs no Redis round trip (a cached read stays I/O-free); the price is that
the effective limit is per process — with N processes a client gets up to N × the rate,
which docs/api.md states. Over the limit: ``429 rate_limited`` with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable

from cachetools import LRUCache
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.http.errors import error_response


class TokenBuckets:
    def __init__(
        self, rate: float, burst: int, max_clients: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._buckets: LRUCache[bytes, list[float]] = LRUCache(max_clients)  # [tokens, updated]

    def take(self, client: bytes) -> float:
        """0 if allowed, else the seconds until a token is available."""
        now = self.clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            self._buckets[client] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(float(self.burst), bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate


def client_id(scope: Scope) -> bytes:
    if scope["path"].startswith("/v1/merchant/"):
        for name, value in scope["headers"]:
            if name == b"authorization":
                return b"k:" + hashlib.blake2b(value, digest_size=16).digest()
    client = scope.get("client")
    return b"ip:" + (client[0].encode() if client else b"?")


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, rate: float, burst: int) -> None:
        self.app = app
        self.buckets = TokenBuckets(rate, burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/health/"):
            return await self.app(scope, receive, send)
        wait = self.buckets.take(client_id(scope))
        if wait:
            response = error_response(
                429,
                "rate_limited",
                "Too many requests; slow down.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
            return await response(scope, receive, send)
        await self.app(scope, receive, send)
