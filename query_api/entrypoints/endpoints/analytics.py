"""Dashboard analytics beyond the daily stats: weekly and monthly series, top products,
repeat-customer rate (kept by the analytics worker; secret key, own merchant only).

Cached like every merchant read (private, keyed by merchant): the worker signals an
invalidation of ``(merchant_analytics, merchant)`` after each roll-up it writes, so a cached
answer lives until the next roll-up — at most the ``analytics`` TTL if that signal is lost.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.routing import Route

from shared.http.auth import authenticate
from shared.worker_read_models import MERCHANT_ANALYTICS

from query_api.adapters.cache.two_level import Query
from query_api.entrypoints.bootstrap import side_of
from query_api.entrypoints.endpoints.common import normalised_key, raw_key, serve_cached
from query_api.entrypoints.responses import PRIVATE, CachedResponse

EMPTY = {
    "weekly": [],
    "monthly": [],
    "top_products": [],
    "customers": 0,
    "repeat_customers": 0,
    "repeat_customer_rate": 0.0,
    "computed_at": None,
}


async def get_analytics(request: Request) -> CachedResponse:
    side = side_of(request)
    merchant_id = (await authenticate(request, side.keys)).merchant_id

    async def load() -> bytes:
        doc = await side.db[MERCHANT_ANALYTICS].find_one({"_id": merchant_id}, {"_id": 0})
        body = {**EMPTY, **(doc or {}), "merchant_id": merchant_id}  # none yet: no orders yet
        if body["computed_at"] is not None:
            body["computed_at"] = body["computed_at"].isoformat()
        return orjson.dumps(body)

    def build() -> Query:
        return Query(
            normalised_key(f"analytics:{merchant_id}", {}),
            (MERCHANT_ANALYTICS, merchant_id),
            side.settings.l1_ttl_seconds,
            side.settings.cache_ttl("analytics"),
            load,
        )

    return await serve_cached(side, raw_key(request, f"m:{merchant_id}:"), build, PRIVATE)


routes = [Route("/v1/analytics", get_analytics, methods=["GET"])]
