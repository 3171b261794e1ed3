"""Dashboard analytics beyond the daily stats: weekly and monthly series, top products,
repeat-customer rate (kept by the analytics worker; secret key, own merchant only)."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.http.auth import authenticate
from shared.worker_read_models import MERCHANT_ANALYTICS

from query_api.entrypoints.bootstrap import side_of

EMPTY = {
    "weekly": [],
    "monthly": [],
    "top_products": [],
    "customers": 0,
    "repeat_customers": 0,
    "repeat_customer_rate": 0.0,
    "computed_at": None,
}


async def get_analytics(request: Request) -> Response:
    side = side_of(request)
    principal = await authenticate(request, side.keys)
    doc = await side.db[MERCHANT_ANALYTICS].find_one({"_id": principal.merchant_id}, {"_id": 0})
    body = {**EMPTY, **(doc or {}), "merchant_id": principal.merchant_id}  # none yet: no orders yet
    if body["computed_at"] is not None:
        body["computed_at"] = body["computed_at"].isoformat()
    return Response(orjson.dumps(body), media_type="application/json")


routes = [Route("/v1/analytics", get_analytics, methods=["GET"])]
