"""Every query this API makes on the read models, the route that makes it, the index it
relies on, and what each server's ``explain`` is documented to show for it
(``docs/indexes.md``, "Every query").

The filters are built by the functions the routes call (``query_api.application.filters``),
so this list cannot drift from what the routes send. A list route accepts more
combinations than are listed here: a filter on another field than the index's is checked
while walking that index (a page then reads ``limit`` divided by the share of documents
that pass; docs/api.md says so). ``tests/integration/test_query_explain.py`` runs each
query through ``explain`` on the server at hand, detects the backend, and compares what it
reports with the expectation here; ``tests/integration/test_index_usage.py`` fails when a
declared index serves none of these queries (nor a read of the projectors), or when a
query names an index that is not declared:

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
FerretDB v1 sorts in Go; our build (``pg-sort-limit-pushdown.patch``) runs a *page* — the
same query with its sort and limit — in PostgreSQL when it can prove the answer exact:
``pg_page`` says how each page is read there ("ordered": an index in the sort's order,
stopped at the limit; "lookup": an exact lookup's few matches, sorted; "fallback": not
pushed down, e.g. a dotted path). ``test_query_explain.py`` checks it for a first page and
a cursor page of each on a 5,000-document merchant.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared import read_model_indexes as ix
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from query_api.application.filters import (
    MERCHANT_PRODUCT_SORTS,
    ORDER_SORTS,
    PRODUCT_SORTS,
    Filter,
    Values,
    catalog_filters,
    merchant_product_filters,
    order_filters,
)

M = "m_sample"
SINCE = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ApiQuery:
    name: str  # what it is for, e.g. "orders of a customer"
    route: str  # the route and the parameters that make it, e.g. "GET /v1/merchant/orders?customer_email="
    collection: str
    filter: Filter
    sort: tuple[tuple[str, int], ...]
    index: str | None  # what MongoDB is meant to use (None: a scan is fine)
    pg_pushdown: bool  # FerretDB on PostgreSQL pushes part of the filter down
    pg_index: str | None = "gin"  # the PostgreSQL index that serves the pushed-down part
    # A page of it (with its limit) on our FerretDB build: "ordered" (the whole query in
    # PostgreSQL, an index read in order and stopped at the limit), "lookup" (the few
    # documents of an exact lookup, read through an index and sorted), "fallback" (not
    # pushed down: read as without a limit, sorted in FerretDB); None: not a page.
    pg_page: str | None = None


def _params(values: Values, sort: str) -> str:
    """The parameters that make the query, as docs/indexes.md shows them."""
    shown = [f"{k}=" for k in values] + ([f"sort={sort}"] if sort != "newest" else [])
    return "?" + "&".join(shown) if shown else ""


def _catalog(name: str, values: Values, sort: str, index: str) -> ApiQuery:
    filters = catalog_filters(values)
    return ApiQuery(
        name,
        "GET /v1/products" + _params(values, sort),
        CATALOG_PRODUCTS,
        filters,
        tuple(PRODUCT_SORTS[sort].mongo),
        index,
        True,
        "gin" if "merchant_id" in filters else None,  # {visible: true} alone matches most of the catalogue
        "ordered",
    )


def _dashboard(name: str, values: Values, sort: str, index: str, page: str = "ordered") -> ApiQuery:
    return ApiQuery(
        name,
        "GET /v1/merchant/products" + _params(values, sort),
        MERCHANT_PRODUCTS,
        merchant_product_filters(values, M),
        tuple(MERCHANT_PRODUCT_SORTS[sort].mongo),
        index,
        True,
        pg_page=page,
    )


def _orders(name: str, values: Values, sort: str, index: str, page: str = "ordered") -> ApiQuery:
    return ApiQuery(
        name,
        "GET /v1/merchant/orders" + _params(values, sort),
        ORDERS,
        order_filters(values, M),
        tuple(ORDER_SORTS[sort].mongo),
        index,
        True,
        pg_page=page,
    )


def _lookup(name: str, route: str, collection: str, filters: Filter, index: str | None, **pg: Any) -> ApiQuery:
    return ApiQuery(name, route, collection, filters, (), index, **{"pg_pushdown": True, **pg})


SHOP = {"merchant": M}
QUERIES: tuple[ApiQuery, ...] = (
    # GET /v1/products (storefront)
    _catalog("products newest", {}, "newest", ix.CAT_ALL_NEWEST),
    _catalog("products price_asc", {}, "price_asc", ix.CAT_ALL_PRICE),
    _catalog("products price_desc", {}, "price_desc", ix.CAT_ALL_PRICE),
    _catalog("products name", {}, "name", ix.CAT_ALL_NAME),
    _catalog("products merchant newest", SHOP, "newest", ix.CAT_NEWEST),
    _catalog("products merchant price", SHOP, "price_asc", ix.CAT_PRICE),
    _catalog("products merchant price_desc", SHOP, "price_desc", ix.CAT_PRICE),
    _catalog("products merchant name", SHOP, "name", ix.CAT_NAME_PREFIX),
    _catalog("products merchant price range", {**SHOP, "min_price": 100, "max_price": 900}, "price_asc", ix.CAT_PRICE),
    _catalog("products merchant name prefix", {**SHOP, "name_prefix": "Boo"}, "name", ix.CAT_NAME_PREFIX),
    _catalog("products merchant category newest", {**SHOP, "category": "shoes"}, "newest", ix.CAT_CATEGORY_NEWEST),
    _catalog("products merchant category price", {**SHOP, "category": "shoes"}, "price_asc", ix.CAT_CATEGORY_PRICE),
    _catalog(
        "products merchant category price_desc", {**SHOP, "category": "shoes"}, "price_desc", ix.CAT_CATEGORY_PRICE
    ),
    _catalog("products merchant category name", {**SHOP, "category": "shoes"}, "name", ix.CAT_CATEGORY_NAME),
    _catalog("products merchant in stock price", {**SHOP, "in_stock": True}, "price_asc", ix.CAT_STOCK_STATUS_PRICE),
    # GET /v1/products/{id}
    _lookup(
        "product by id",
        "GET /v1/products/{id}",
        CATALOG_PRODUCTS,
        {"_id": "p_sample", "visible": True},
        "_id_",
        pg_index="_id",
    ),
    # GET /v1/categories
    _lookup(
        "categories of a merchant",
        "GET /v1/categories?merchant=",
        CATEGORIES,
        {"product_count": {"$gt": 0}, "merchant_id": M},
        ix.CATEGORIES_BY_COUNT,
    ),
    _lookup(
        "categories of every shop",
        "GET /v1/categories",
        CATEGORIES,
        {"product_count": {"$gt": 0}},
        None,
        pg_pushdown=False,
        pg_index=None,
    ),
    # GET /v1/merchant/products (dashboard)
    _dashboard("merchant products newest", {}, "newest", ix.MP_NEWEST),
    _dashboard("merchant products by status", {"status": "draft"}, "newest", ix.MP_STATUS_NEWEST),
    _dashboard("merchant products recently updated", {}, "updated", ix.MP_UPDATED),
    _dashboard("merchant products price", {}, "price_asc", ix.MP_PRICE),
    _dashboard("merchant products price range", {"min_price": 100, "max_price": 900}, "price_desc", ix.MP_PRICE),
    _dashboard("merchant products name", {}, "name", ix.MP_NAME_PREFIX),
    _dashboard("merchant products name prefix", {"name_prefix": "Boo"}, "name", ix.MP_NAME_PREFIX),
    _dashboard("merchant products category name", {"category": "shoes"}, "name", ix.MP_CATEGORY_NAME),
    _dashboard("merchant products low stock", {"max_stock": 5}, "stock", ix.MP_LOW_STOCK),
    _dashboard("merchant products best sellers", {}, "best_selling", ix.MP_BEST_SELLERS),
    _dashboard("merchant product by SKU", {"sku": "SKU-1"}, "newest", ix.MP_SKU, "lookup"),
    # GET /v1/merchant/orders
    _orders("orders newest", {}, "newest", ix.ORD_PLACED),
    _orders("orders oldest", {}, "oldest", ix.ORD_PLACED),
    _orders("orders placed between", {"from": SINCE, "to": datetime(2026, 2, 1, tzinfo=UTC)}, "newest", ix.ORD_PLACED),
    _orders("orders by status", {"status": ("paid",)}, "newest", ix.ORD_STATUS_PLACED),
    _orders("orders by several statuses", {"status": ("confirmed", "paid")}, "oldest", ix.ORD_STATUS_PLACED),
    _orders("open orders queue", {"open": "true"}, "oldest", ix.ORD_OPEN_QUEUE),
    _orders("orders of a customer", {"customer_email": "A@example.com"}, "newest", ix.ORD_CUSTOMER),
    _orders("orders of a product", {"product_id": "p_sample"}, "newest", ix.ORD_PRODUCT, "fallback"),
    _orders("order by tracking number", {"tracking_number": "TRK-1"}, "newest", ix.ORD_TRACKING, "lookup"),
    _orders("orders biggest first", {}, "total_desc", ix.ORD_TOTAL),
    _orders("orders in a total range", {"min_total": 1000, "max_total": 5000}, "total_asc", ix.ORD_TOTAL),
    # GET /v1/merchant/orders/{id}
    _lookup(
        "order by id",
        "GET /v1/merchant/orders/{id}",
        ORDERS,
        {"_id": "o_sample", "merchant_id": M},
        "_id_",
        pg_index="_id",
    ),
    # GET /v1/merchant/stats
    _lookup(
        "stats range",
        "GET /v1/merchant/stats",
        MERCHANT_STATS,
        {"merchant_id": M, "_id": {"$gte": f"{M}:2026-03-01", "$lte": f"{M}:2026-03-31"}},
        "_id_",
    ),
)
