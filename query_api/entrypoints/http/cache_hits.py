"""The fast path: a public read whose answer is in L1 is sent from here, before routing.

A cache hit then costs a dict lookup and two ``send`` calls — no route matching, no
``Request`` object, no exception middleware — which is what keeps a cached catalogue page
close to a bare endpoint's speed. Anything else (a miss, merchant routes, which need their
key checked, and read-your-writes requests) goes on to the routes, which use the same L1
key (``endpoints.common.raw_key``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from query_api.entrypoints.bootstrap import side_of_scope
from query_api.entrypoints.responses import PUBLIC, CachedResponse

PUBLIC_PATHS = ("/v1/products", "/v1/categories")
CACHED_PATHS = (*PUBLIC_PATHS, "/v1/merchant/", "/v1/analytics")  # the reads served through the cache


def count_shed_read(scope: Scope) -> None:
    """Load shedding refused ``scope``: a cacheable read that no cache answered counts as a
    lookup that missed (the hit ratio is over every read, ``query_api.adapters.cache.stats``)."""
    if scope["method"] == "GET" and scope["path"].startswith(CACHED_PATHS):
        side_of_scope(scope).cache.stats.shed_read()


class CacheHitMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PUBLIC_PATHS)
            and b"min_version" not in scope["query_string"]
            and not any(name == b"x-min-version" for name, _ in scope["headers"])
        ):
            cache = side_of_scope(scope).cache
            key = f"{scope['path']}?{scope['query_string'].decode('latin-1')}"
            entry = cache.l1.get(key)
            if entry is not None:
                cache.hot.seen(key)
                cache.stats.l1_hit()
                return await CachedResponse(entry, PUBLIC)(scope, receive, send)
        await self.app(scope, receive, send)
