"""Every query this API makes on the read models, the index it relies on, and what each
server's ``explain`` is documented to show for it (``docs/indexes.md``, "Every query").

The filters are built by the functions the routes call (``product_filters``,
``order_filters``, the sorts: all below), so this list cannot drift from what the routes send.
``tests/integration/test_query_explain.py`` runs each through ``explain`` on the server
at hand, detects the backend, and compares what it reports with the expectation here:

- ``mongodb``: the winning plan uses ``index`` (``_id_`` for the ``_id`` lookups, ``None``
  where a collection scan is the intended plan);
- ``ferretdb-sqlite`` (``MERCHANT_FERRETDB_BACKEND=sqlite``): FerretDB v1 plans no secondary
  index; it pushes a filter down to SQLite only when it is exactly ``{_id: <value>}``,
  which none of these is, so every one reports ``filterPushdown: false`` and a ``SCAN``;
- ``ferretdb-postgresql`` (what ``merchant infra up`` runs): FerretDB v1 pushes down every
  top-level equality on a plain value (string, number, boolean, date), not ranges or
  ``$regex`` (``$in`` only with our build): ``pg_pushdown`` says whether a query has one. Our build
  (``infra/ferretdb/patches``) pushes ``_id`` equality as ``_jsonb->'_id' = v`` (the
  ``_id`` index serves it) and any other as whole-document containment, which the GIN
  index every table gets serves: ``pg_index`` names the index a selective query must use
  (``"_id"``, ``"gin"``; ``None``: a filter most documents match, where a table scan is
  the right plan).
Sorts are never pushed down by FerretDB v1 (only ``$natural``): it sorts in memory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared import read_model_indexes as ix
from shared.http.errors import ApiError
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from query_api.application.pagination import ASC, DESC, Sort

# -- what the routes send: sorts and filters ------------------------------------------
PRODUCT_SORTS = {
    "newest": Sort("created_at", DESC),
    "price_asc": Sort("price_amount", ASC),
    "price_desc": Sort("price_amount", DESC),
    "name": Sort("name_lower", ASC),
}
ORDER_SORTS = {"newest": Sort("placed_at", DESC), "oldest": Sort("placed_at", ASC)}


def product_filters(values: dict, base: dict) -> dict:
    """The MongoDB filter for the catalogue filters in ``values``, on top of ``base``."""
    filters = dict(base)
    if "category" in values:
        filters["category"] = values["category"]
    low, high = values.get("min_price"), values.get("max_price")
    if low is not None and high is not None and low > high:
        raise ApiError(
            400,
            "invalid_parameter",
            "min_price is above max_price.",
            [{"field": "min_price", "problem": "invalid", "message": "above max_price"}],
        )
    if low is not None or high is not None:
        filters["price_amount"] = {k: v for k, v in (("$gte", low), ("$lte", high)) if v is not None}
    if "in_stock" in values:
        filters["stock_status"] = {"$in": ["in_stock", "low_stock"]} if values["in_stock"] else "out_of_stock"
    if "name_prefix" in values:
        filters["name_lower"] = {"$regex": "^" + re.escape(values["name_prefix"].lower())}
    return filters


def order_filters(values: dict, merchant_id: str) -> dict:
    filters: dict = {"merchant_id": merchant_id}
    if "status" in values:
        filters["status"] = values["status"]
    if "customer_email" in values:
        filters["customer_email"] = values["customer_email"].strip().lower()
    placed = {k: values[p] for k, p in (("$gte", "from"), ("$lt", "to")) if p in values}
    if placed:
        filters["placed_at"] = placed
    return filters


# -- every query, with the index it relies on -----------------------------------------
M = "m_sample"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ApiQuery:
    name: str  # route and variant
    collection: str
    filter: dict[str, Any]
    sort: tuple[tuple[str, int], ...]
    index: str | None  # what MongoDB is meant to use (None: a scan is fine)
    pg_pushdown: bool  # FerretDB on PostgreSQL pushes part of the filter down
    pg_index: str | None = "gin"  # the PostgreSQL index that serves the pushed-down part


def _catalog(name: str, values: dict, sort: str, index: str, pg: bool = True) -> ApiQuery:
    base = {"visible": True} | ({"merchant_id": values.pop("merchant")} if "merchant" in values else {})
    return ApiQuery(
        name,
        CATALOG_PRODUCTS,
        product_filters(values, base),
        tuple(PRODUCT_SORTS[sort].mongo),
        index,
        pg,
        "gin" if "merchant_id" in base else None,
    )  # {visible: true} alone matches most of the catalogue


def _dashboard(name: str, values: dict, sort: str, index: str) -> ApiQuery:
    base = {"merchant_id": M} | ({"status": values.pop("status")} if "status" in values else {})
    return ApiQuery(
        name, MERCHANT_PRODUCTS, product_filters(values, base), tuple(PRODUCT_SORTS[sort].mongo), index, True
    )


def _orders(name: str, values: dict, sort: str, index: str) -> ApiQuery:
    return ApiQuery(name, ORDERS, order_filters(values, M), tuple(ORDER_SORTS[sort].mongo), index, True)


QUERIES: tuple[ApiQuery, ...] = (
    # GET /v1/products (storefront)
    _catalog("products newest", {}, "newest", ix.CAT_ALL_NEWEST),
    _catalog("products price_asc", {}, "price_asc", ix.CAT_ALL_PRICE),
    _catalog("products price_desc", {}, "price_desc", ix.CAT_ALL_PRICE),
    _catalog("products name", {}, "name", ix.CAT_ALL_NAME),
    _catalog("products merchant newest", {"merchant": M}, "newest", ix.CAT_NEWEST),
    _catalog("products merchant price", {"merchant": M}, "price_asc", ix.CAT_PRICE),
    _catalog(
        "products merchant price range", {"merchant": M, "min_price": 100, "max_price": 900}, "price_asc", ix.CAT_PRICE
    ),
    _catalog("products merchant name prefix", {"merchant": M, "name_prefix": "Boo"}, "name", ix.CAT_NAME_PREFIX),
    _catalog(
        "products merchant category newest", {"merchant": M, "category": "shoes"}, "newest", ix.CAT_CATEGORY_NEWEST
    ),
    _catalog(
        "products merchant category price", {"merchant": M, "category": "shoes"}, "price_asc", ix.CAT_CATEGORY_PRICE
    ),
    _catalog(
        "products merchant in stock price", {"merchant": M, "in_stock": True}, "price_asc", ix.CAT_STOCK_STATUS_PRICE
    ),
    # GET /v1/products/{id}
    ApiQuery("product by id", CATALOG_PRODUCTS, {"_id": "p_sample", "visible": True}, (), "_id_", True, "_id"),
    # GET /v1/categories
    ApiQuery(
        "categories of a merchant",
        CATEGORIES,
        {"product_count": {"$gt": 0}, "merchant_id": M},
        (),
        ix.CATEGORIES_BY_COUNT,
        True,
    ),
    ApiQuery("categories of every shop", CATEGORIES, {"product_count": {"$gt": 0}}, (), None, False, None),
    # GET /v1/merchant/products (dashboard)
    _dashboard("merchant products newest", {}, "newest", ix.MP_NEWEST),
    _dashboard("merchant products by status", {"status": "draft"}, "newest", ix.MP_NEWEST),
    _dashboard("merchant products name", {}, "name", ix.MP_NAME_PREFIX),
    _dashboard("merchant products category name", {"category": "shoes"}, "name", ix.MP_CATEGORY_NAME),
    # GET /v1/merchant/orders
    _orders("orders newest", {}, "newest", ix.ORD_PLACED),
    _orders("orders oldest", {}, "oldest", ix.ORD_PLACED),
    _orders("orders placed between", {"from": SINCE, "to": datetime(2026, 2, 1, tzinfo=UTC)}, "newest", ix.ORD_PLACED),
    _orders("orders by status", {"status": "paid"}, "newest", ix.ORD_STATUS_PLACED),
    _orders("orders of a customer", {"customer_email": "A@example.com"}, "newest", ix.ORD_CUSTOMER),
    # GET /v1/merchant/orders/{id}
    ApiQuery("order by id", ORDERS, {"_id": "o_sample", "merchant_id": M}, (), "_id_", True, "_id"),
    # GET /v1/merchant/stats
    ApiQuery(
        "stats range",
        MERCHANT_STATS,
        {"merchant_id": M, "_id": {"$gte": f"{M}:2026-03-01", "$lte": f"{M}:2026-03-31"}},
        (),
        "_id_",
        True,
    ),
)
