"""The fast path: a public read whose answer is in L1 is sent from here, before routing.

A cache hit then costs a dict lookup and two ``send`` calls — no route matching, no
``Request`` object, no exception middleware — which is what keeps a cached catalogue page
close to a bare endpoint's speed. Anything else (a miss, merchant routes, which need their
key checked, read-your-writes requests and the warm-up worker's) goes on to the routes,
which use the same L1 key (``endpoints.common.raw_key``).
"""

from __future__ import annotations

from contextvars import ContextVar

from starlette.types import ASGIApp, Receive, Scope, Send

from query_api.adapters.cache.warm_up import WARMUP_HEADER
from query_api.entrypoints.bootstrap import side_of_scope
from query_api.entrypoints.responses import PUBLIC, CachedResponse

PUBLIC_PATHS = ("/v1/products", "/v1/categories")
# Reads that must not be answered from L1: read-your-writes, and the warm-up worker's.
PAST_L1 = (b"x-min-version", WARMUP_HEADER)
CACHED_PATHS = (*PUBLIC_PATHS, "/v1/merchant/", "/v1/analytics")  # the reads served through the cache
# Set while the warm-up worker's read is handled (the task that runs the route too).
WARMING: ContextVar[bool] = ContextVar("warming", default=False)


def count_shed_read(scope: Scope) -> None:
    """Load shedding refused ``scope``: a cacheable read that no cache answered counts as a
    lookup that missed (the hit ratio is over every read, ``query_api.adapters.cache.stats``)."""
    if scope["method"] == "GET" and scope["path"].startswith(CACHED_PATHS):
        side_of_scope(scope).cache.stats.shed_read()


class CacheHitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET":
            return await self.app(scope, receive, send)
        past_l1 = [name for name, _ in scope["headers"] if name in PAST_L1]
        if WARMUP_HEADER in past_l1:  # the route reads past L1 (``endpoints.common.serve_cached``)
            token = WARMING.set(True)
            try:
                return await self.app(scope, receive, send)
            finally:
                WARMING.reset(token)
        if not past_l1 and scope["path"].startswith(PUBLIC_PATHS) and b"min_version" not in scope["query_string"]:
            cache = side_of_scope(scope).cache
            key = f"{scope['path']}?{scope['query_string'].decode('latin-1')}"
            entry = cache.l1.get(key)
            if entry is not None:
                cache.hot.seen(key, entry.tag)
                cache.stats.l1_hit()
                return await CachedResponse(entry, PUBLIC)(scope, receive, send)
        await self.app(scope, receive, send)
