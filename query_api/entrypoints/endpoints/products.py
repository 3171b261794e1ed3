"""Storefront catalogue: product lists, one product, categories.

Public: no key is needed (the catalogue is what a shop shows anyone); a key, if sent, is
ignored here. Only published products (``visible``) are served. After a change, a reader
may get the previous answer (marked ``X-Cache: stale`` with its ``Age``) for at most
``QUERY_API_MAX_STALE_SECONDS`` while it reloads; a ``min_version`` read never is.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route

from shared.http.errors import ApiError
from shared.invalidation import ANY_MERCHANT as ANY

from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import id_tag
from query_api.adapters.cache.repair import repair_after_fresh_read
from query_api.adapters.cache.two_level import Query
from query_api.application.filters import PRODUCT_SORTS, catalog_filters
from query_api.application.freshness import min_version, wait_for_version
from query_api.application.params import Param, ParamSet, page_params
from query_api.application.read_models import CATALOG_PRODUCTS, CATEGORIES, PRODUCT_VIEW
from query_api.entrypoints.bootstrap import side_of
from query_api.entrypoints.endpoints.common import RouteDoc, list_query, normalised_key, raw_key, serve_cached
from query_api.entrypoints.responses import PUBLIC, CachedResponse

MAX_LIMIT = 100
ID_PATTERN = r"[A-Za-z0-9_.:-]{1,64}"

PRODUCT_FILTERS = (
    Param("category", "string", "Only this category.", max_length=100),
    Param("min_price", "integer", "Lowest price, minor units.", minimum=0, maximum=10**12),
    Param("max_price", "integer", "Highest price, minor units.", minimum=0, maximum=10**12),
    Param("in_stock", "boolean", "true: in or low stock; false: out of stock."),
    Param("name_prefix", "string", "Names starting with this (case-insensitive).", max_length=100),
)
LIST_PARAMS = ParamSet(
    (
        Param("merchant", "string", "Only this merchant's products.", pattern=ID_PATTERN),
        *PRODUCT_FILTERS,
        *page_params(MAX_LIMIT, PRODUCT_VIEW.fields, tuple(PRODUCT_SORTS)),
    )
)
ONE_PARAMS = ParamSet(
    (
        Param("fields", "fields", "Comma-separated fields to return.", choices=PRODUCT_VIEW.fields),
        Param(
            "min_version",
            "integer",
            "Read-your-writes: wait until the product reaches this version.",
            minimum=1,
            maximum=2**53 - 1,
        ),
    )
)
CATEGORY_PARAMS = ParamSet((Param("merchant", "string", "Only this merchant's categories.", pattern=ID_PATTERN),))


async def list_products(request: Request) -> CachedResponse:
    side = side_of(request)

    def build() -> Query:
        values = LIST_PARAMS.parse(request.query_params)
        return list_query(
            side,
            collection=CATALOG_PRODUCTS,
            filters=catalog_filters(values),
            view=PRODUCT_VIEW,
            sorts=PRODUCT_SORTS,
            values=values,
            key="products",
            tag=(CATALOG_PRODUCTS, values.get("merchant", ANY)),
            l2_ttl=side.settings.cache_ttl("list"),
            stale_ok=True,
        )

    return await serve_cached(side, raw_key(request), build)


async def get_product(request: Request) -> CachedResponse:
    side = side_of(request)
    product_id = request.path_params["product_id"]

    async def fetch(fields: tuple[str, ...] | None) -> dict[str, Any] | None:
        return await side.db[CATALOG_PRODUCTS].find_one(
            {"_id": product_id, "visible": True}, PRODUCT_VIEW.projection(fields, extra=("version", "merchant_id"))
        )

    version = min_version(request)
    if version is not None:  # read-your-writes: fresh from MongoDB, not from the cache
        fields = ONE_PARAMS.parse(request.query_params).get("fields")
        doc = await wait_for_version(lambda: fetch(fields), version, side.settings.min_version_wait_seconds)
        await repair_after_fresh_read(
            side.cache.epochs, side.redis, side.prefix, CATALOG_PRODUCTS, doc["merchant_id"], product_id
        )
        return CachedResponse(Entry.build(orjson.dumps(PRODUCT_VIEW.render(doc, fields))), PUBLIC)

    def build() -> Query:
        fields = ONE_PARAMS.parse(request.query_params).get("fields")

        async def load() -> bytes:
            doc = await fetch(fields)
            if doc is None:
                raise ApiError(404, "not_found", f"No product '{product_id}'.")
            return orjson.dumps(PRODUCT_VIEW.render(doc, fields))

        return Query(
            normalised_key("product", {"id": product_id, "fields": fields}),
            id_tag(CATALOG_PRODUCTS, product_id),
            side.settings.l1_ttl_seconds,
            side.settings.cache_ttl("product"),
            load,
            stale_ok=True,
        )

    return await serve_cached(side, raw_key(request), build)


async def list_categories(request: Request) -> CachedResponse:
    side = side_of(request)

    def build() -> Query:
        values = CATEGORY_PARAMS.parse(request.query_params)
        merchant = values.get("merchant")

        async def load() -> bytes:
            filters: dict[str, Any] = {"product_count": {"$gt": 0}}
            if merchant:
                filters["merchant_id"] = merchant
            counts: dict[str, int] = {}
            async for doc in side.db[CATEGORIES].find(filters, {"category": 1, "product_count": 1}):
                counts[doc["category"]] = counts.get(doc["category"], 0) + doc["product_count"]
            return orjson.dumps({"data": [{"category": c, "product_count": n} for c, n in sorted(counts.items())]})

        return Query(
            normalised_key("categories", values),
            (CATEGORIES, merchant or ANY),
            side.settings.l1_ttl_seconds,
            side.settings.cache_ttl("categories"),
            load,
            stale_ok=True,
        )

    return await serve_cached(side, raw_key(request), build)


routes = [
    Route("/v1/products", list_products, methods=["GET"]),
    Route("/v1/products/{product_id}", get_product, methods=["GET"]),
    Route("/v1/categories", list_categories, methods=["GET"]),
]
docs = [
    RouteDoc("/v1/products", "listProducts", "List published products (storefront).", LIST_PARAMS, "ProductPage"),
    RouteDoc(
        "/v1/products/{product_id}",
        "getProduct",
        "One published product.",
        ONE_PARAMS,
        "Product",
        path_params=("product_id",),
        min_version=True,
    ),
    RouteDoc(
        "/v1/categories", "listCategories", "Categories with published products.", CATEGORY_PARAMS, "CategoryList"
    ),
]
