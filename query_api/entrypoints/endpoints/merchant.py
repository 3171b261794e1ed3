"""Merchant dashboard reads: own products, orders, statistics. Secret key required.

Every query is scoped to the key's merchant; another merchant's order is a 404 (never a
403, which would confirm it exists). Cache entries are keyed by merchant and sent with
``Cache-Control: private``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route

from shared.http.auth import authenticate
from shared.http.errors import ApiError

from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.repair import repair_after_fresh_read
from query_api.adapters.cache.two_level import Query
from query_api.application.filters import (
    MERCHANT_PRODUCT_SORTS,
    ORDER_SORTS,
    ORDER_STATUSES,
    PRODUCT_STATUSES,
    merchant_product_filters,
    order_filters,
)
from query_api.application.freshness import min_version, wait_for_version
from query_api.application.pagination import Sort
from query_api.application.params import Param, ParamSet, page_params
from query_api.application.read_models import (
    MERCHANT_PRODUCT_VIEW,
    MERCHANT_PRODUCTS,
    MERCHANT_STATS,
    ORDER_VIEW,
    ORDERS,
    View,
)
from query_api.application.stats import summarise
from query_api.entrypoints.bootstrap import QuerySide, side_of
from query_api.entrypoints.endpoints.common import RouteDoc, list_query, normalised_key, raw_key, serve_cached
from query_api.entrypoints.endpoints.products import ID_PATTERN, PRODUCT_FILTERS
from query_api.entrypoints.responses import PRIVATE, CachedResponse

MAX_LIMIT = 100
MAX_STATS_DAYS = 366
MAX_TOTAL = 100 * 1000 * 10**12  # the largest order the command side accepts: 100 lines x 1,000 x 10^12
SKU_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"  # as the command side accepts it

PRODUCT_PARAMS = ParamSet(
    (
        *PRODUCT_FILTERS,
        Param("status", "enum", "Only products in this status.", choices=PRODUCT_STATUSES),
        Param("sku", "string", "Only the product with this SKU (exact).", max_length=64, pattern=SKU_PATTERN),
        Param("max_stock", "integer", "Only products with at most this many in stock.", minimum=0, maximum=10**9),
        *page_params(MAX_LIMIT, MERCHANT_PRODUCT_VIEW.fields, tuple(MERCHANT_PRODUCT_SORTS)),
    )
)
ORDER_PARAMS = ParamSet(
    (
        Param("status", "enums", "Only orders in these statuses (comma-separated).", choices=ORDER_STATUSES),
        Param("open", "enum", "`true`: only open orders (placed, confirmed or paid).", choices=("true",)),
        Param("from", "datetime", "Placed at or after (ISO-8601)."),
        Param("to", "datetime", "Placed before (ISO-8601)."),
        Param("customer_email", "string", "Only this customer's orders.", max_length=254),
        Param("product_id", "string", "Only orders with a line of this product.", pattern=ID_PATTERN),
        Param("tracking_number", "string", "Only the orders shipped with this tracking number.", max_length=100),
        Param("min_total", "integer", "Lowest total, minor units.", minimum=0, maximum=MAX_TOTAL),
        Param("max_total", "integer", "Highest total, minor units.", minimum=0, maximum=MAX_TOTAL),
        *page_params(MAX_LIMIT, ORDER_VIEW.fields, tuple(ORDER_SORTS)),
    )
)
ORDER_PARAMS_ONE = ParamSet(
    (
        Param("fields", "fields", "Comma-separated fields to return.", choices=ORDER_VIEW.fields),
        Param(
            "min_version",
            "integer",
            "Read-your-writes: wait until the order reaches this version.",
            minimum=1,
            maximum=2**53 - 1,
        ),
    )
)
STATS_PARAMS = ParamSet(
    (
        Param("from", "date", "First day (UTC, YYYY-MM-DD); default 29 days before `to`."),
        Param("to", "date", f"Last day (UTC, YYYY-MM-DD), included; default today. At most {MAX_STATS_DAYS} days."),
    )
)


async def _merchant(request: Request) -> tuple[QuerySide, str]:
    side = side_of(request)
    principal = await authenticate(request, side.keys, allow=("secret",))
    return side, principal.merchant_id


def _scoped_key(request: Request, merchant_id: str) -> str:
    return raw_key(request, f"m:{merchant_id}:")


async def _merchant_list(
    request: Request,
    params: ParamSet,
    collection: str,
    filters: Callable[[dict[str, Any], str], dict[str, Any]],
    view: View,
    sorts: dict[str, Sort],
    key: str,
) -> CachedResponse:
    """A merchant's own list (products or orders): private, cached per merchant and query."""
    side, merchant_id = await _merchant(request)

    def build() -> Query:
        values = params.parse(request.query_params)
        return list_query(
            side,
            collection=collection,
            filters=filters(values, merchant_id),
            view=view,
            sorts=sorts,
            values=values,
            key=f"{key}:{merchant_id}",
            tag=(collection, merchant_id),
            l2_ttl=side.settings.cache_ttl("merchant"),
        )

    return await serve_cached(side, _scoped_key(request, merchant_id), build, PRIVATE)


async def list_products(request: Request) -> CachedResponse:
    return await _merchant_list(
        request,
        PRODUCT_PARAMS,
        MERCHANT_PRODUCTS,
        merchant_product_filters,
        MERCHANT_PRODUCT_VIEW,
        MERCHANT_PRODUCT_SORTS,
        "mproducts",
    )


async def list_orders(request: Request) -> CachedResponse:
    return await _merchant_list(request, ORDER_PARAMS, ORDERS, order_filters, ORDER_VIEW, ORDER_SORTS, "orders")


async def get_order(request: Request) -> CachedResponse:
    side, merchant_id = await _merchant(request)
    order_id = request.path_params["order_id"]
    fields = ORDER_PARAMS_ONE.parse(request.query_params).get("fields")

    async def fetch() -> dict[str, Any] | None:
        return await side.db[ORDERS].find_one(
            {"_id": order_id, "merchant_id": merchant_id}, ORDER_VIEW.projection(fields, extra=("version",))
        )

    version = min_version(request)
    if version is not None:
        doc = await wait_for_version(fetch, version, side.settings.min_version_wait_seconds)
        await repair_after_fresh_read(side.cache.epochs, side.redis, side.prefix, ORDERS, merchant_id, order_id)
        return CachedResponse(Entry.build(orjson.dumps(ORDER_VIEW.render(doc, fields))), PRIVATE)

    async def load() -> bytes:
        doc = await fetch()
        if doc is None:
            raise ApiError(404, "not_found", f"No order '{order_id}'.")
        return orjson.dumps(ORDER_VIEW.render(doc, fields))

    return await serve_cached(
        side,
        _scoped_key(request, merchant_id),
        lambda: Query(
            normalised_key(f"order:{merchant_id}", {"id": order_id, "fields": fields}),
            (ORDERS, merchant_id),
            side.settings.l1_ttl_seconds,
            side.settings.cache_ttl("merchant"),
            load,
        ),
        PRIVATE,
    )


def stats_range(values: dict[str, Any], today: date) -> tuple[date, date]:
    last = values.get("to", today)
    first = values.get("from", last - timedelta(days=29))
    if first > last or (last - first).days >= MAX_STATS_DAYS:
        raise ApiError(
            400,
            "invalid_parameter",
            f"`from` must not be after `to`, and the range at most {MAX_STATS_DAYS} days.",
            [{"field": "from", "problem": "invalid_range", "message": "bad range"}],
        )
    return first, last


async def get_stats(request: Request) -> CachedResponse:
    side, merchant_id = await _merchant(request)

    def build() -> Query:
        first, last = stats_range(STATS_PARAMS.parse(request.query_params), datetime.now(UTC).date())

        async def load() -> bytes:
            cursor = side.db[MERCHANT_STATS].find(
                {
                    "merchant_id": merchant_id,
                    "_id": {"$gte": f"{merchant_id}:{first.isoformat()}", "$lte": f"{merchant_id}:{last.isoformat()}"},
                }
            )
            days = await cursor.to_list()
            return orjson.dumps(summarise(merchant_id, first, last, days))

        return Query(
            normalised_key(f"stats:{merchant_id}", {"from": first, "to": last}),
            (MERCHANT_STATS, merchant_id),
            side.settings.l1_ttl_seconds,
            side.settings.cache_ttl("stats"),
            load,
        )

    return await serve_cached(side, _scoped_key(request, merchant_id), build, PRIVATE)


routes = [
    Route("/v1/merchant/products", list_products, methods=["GET"]),
    Route("/v1/merchant/orders", list_orders, methods=["GET"]),
    Route("/v1/merchant/orders/{order_id}", get_order, methods=["GET"]),
    Route("/v1/merchant/stats", get_stats, methods=["GET"]),
]
docs = [
    RouteDoc(
        "/v1/merchant/products",
        "listMerchantProducts",
        "Your products, every status.",
        PRODUCT_PARAMS,
        "MerchantProductPage",
        auth="secret",
    ),
    RouteDoc("/v1/merchant/orders", "listMerchantOrders", "Your orders.", ORDER_PARAMS, "OrderPage", auth="secret"),
    RouteDoc(
        "/v1/merchant/orders/{order_id}",
        "getMerchantOrder",
        "One of your orders.",
        ORDER_PARAMS_ONE,
        "Order",
        auth="secret",
        path_params=("order_id",),
        min_version=True,
    ),
    RouteDoc(
        "/v1/merchant/stats",
        "getMerchantStats",
        "Your sales statistics per day and in total.",
        STATS_PARAMS,
        "Stats",
        auth="secret",
    ),
]
