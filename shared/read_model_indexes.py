"""Every read-model index, with the query it serves: the contract the query API codes against.

Each ``IndexSpec`` names one index (the query side may pass the name as a ``hint`` or just
rely on the planner), its keys, an optional partial filter, and the exact query shape it
exists for (``filter``/``sort``: ``explain`` is run on these by the tests and the docs table
in ``docs/indexes.md`` is generated from them). ``"?"`` stands for a value the caller fills.

The query API and the projectors both create them with ``ensure_read_model_indexes``
(idempotent: one ``createIndexes`` per index through ``shared.mongo.ensure_indexes``).

Partial indexes: on a server that implements ``partialFilterExpression`` (MongoDB) the
index is partial and leaves the filtered field out of its keys; elsewhere (FerretDB v1)
the same *name* is created as a full index with the filter's fields inserted after the
leading ``merchant_id`` key, so the same query still has a matching equality prefix.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypedDict

from pymongo import IndexModel
from pymongo.errors import OperationFailure

from shared.mongo import Database, ensure_indexes
from shared.read_models import (
    CATALOG_PRODUCTS,
    CATEGORIES,
    CATEGORY_COUNTERS,
    MERCHANT_PRODUCTS,
    MERCHANT_STATS,
    MERCHANT_STATS_COUNTERS,
    ORDERS,
)

log = logging.getLogger(__name__)

ASC, DESC = 1, -1
OPEN_STATUSES = ("placed", "confirmed", "paid")


@dataclass(frozen=True)
class IndexSpec:
    name: str
    collection: str
    keys: tuple[tuple[str, int], ...]
    query: dict[str, Any]
    sort: tuple[tuple[str, int], ...] = ()
    why: str = ""
    partial: dict[str, Any] = field(default_factory=dict)

    def fallback_keys(self) -> tuple[tuple[str, int], ...]:
        """Keys of the full index that stands in for a partial one."""
        extra = tuple((f, ASC) for f in self.partial)
        return self.keys[:1] + extra + self.keys[1:]


def _spec(
    name: str,
    collection: str,
    keys: Iterable[tuple[str, int]],
    query: dict[str, Any],
    sort: Iterable[tuple[str, int]] = (),
    why: str = "",
    partial: dict[str, Any] | None = None,
) -> IndexSpec:
    return IndexSpec(name, collection, tuple(keys), query, tuple(sort), why, partial or {})


VISIBLE = {"visible": True}
M = "?merchant"

# --- catalog_products: storefront reads; every query filters visible=true ----------------
CAT_CATEGORY_PRICE = "cat_merchant_category_price"
CAT_NEWEST = "cat_merchant_newest"
CAT_CATEGORY_NEWEST = "cat_merchant_category_newest"
CAT_CATEGORY_NAME = "cat_merchant_category_name"
CAT_PRICE = "cat_merchant_price"
CAT_NAME_PREFIX = "cat_merchant_name_prefix"
CAT_STOCK_STATUS_PRICE = "cat_merchant_stock_status_price"
CAT_RENAMED = "cat_merchant_renamed"
CAT_ALL_NEWEST = "cat_visible_newest"
CAT_ALL_PRICE = "cat_visible_price"
CAT_ALL_NAME = "cat_visible_name"
# --- merchant_products: dashboard reads, every status -------------------------------------
MP_NEWEST = "mp_merchant_newest"
MP_STATUS_NEWEST = "mp_merchant_status_newest"
MP_UPDATED = "mp_merchant_updated"
MP_PRICE = "mp_merchant_price"
MP_LOW_STOCK = "mp_merchant_stock"
MP_BEST_SELLERS = "mp_merchant_best_sellers"
MP_SKU = "mp_merchant_sku"
MP_CATEGORY_NAME = "mp_merchant_category_name"
MP_NAME_PREFIX = "mp_merchant_name_prefix"
# --- categories ---------------------------------------------------------------------------
CATEGORIES_BY_COUNT = "categories_merchant_count"
# --- orders -------------------------------------------------------------------------------
ORD_PLACED = "orders_merchant_placed"
ORD_STATUS_PLACED = "orders_merchant_status_placed"
ORD_CUSTOMER = "orders_merchant_customer_placed"
ORD_TOTAL = "orders_merchant_total"
ORD_PRODUCT = "orders_merchant_product_placed"
ORD_OPEN_QUEUE = "orders_merchant_open_queue"
ORD_TRACKING = "orders_merchant_tracking"
# --- the derived views' counters ----------------------------------------------------------
CATEGORY_COUNTERS_KEY = "category_counters_key"
STATS_COUNTERS_KEY = "stats_counters_key"

INDEXES: tuple[IndexSpec, ...] = (
    _spec(
        CAT_CATEGORY_PRICE,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("category", ASC), ("price_amount", ASC), ("_id", ASC)],
        {"merchant_id": M, "visible": True, "category": "?"},
        [("price_amount", ASC), ("_id", ASC)],
        "storefront category page sorted by price (either direction), cursor on (price, _id); the projector's "
        "repair of a category's price range",
        VISIBLE,
    ),
    _spec(
        CAT_NEWEST,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("created_at", DESC), ("_id", DESC)],
        {"merchant_id": M, "visible": True},
        [("created_at", DESC), ("_id", DESC)],
        "storefront home: newest products first",
        VISIBLE,
    ),
    _spec(
        CAT_CATEGORY_NEWEST,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("category", ASC), ("created_at", DESC), ("_id", DESC)],
        {"merchant_id": M, "visible": True, "category": "?"},
        [("created_at", DESC), ("_id", DESC)],
        "storefront category page, newest first (the default sort)",
        VISIBLE,
    ),
    _spec(
        CAT_CATEGORY_NAME,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("category", ASC), ("name_lower", ASC), ("_id", ASC)],
        {"merchant_id": M, "visible": True, "category": "?"},
        [("name_lower", ASC), ("_id", ASC)],
        "storefront category page sorted by name",
        VISIBLE,
    ),
    _spec(
        CAT_PRICE,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("price_amount", ASC), ("_id", ASC)],
        {"merchant_id": M, "visible": True, "price_amount": {"$gte": 0, "$lte": 10_000}},
        [("price_amount", ASC), ("_id", ASC)],
        "a shop sorted by price (either direction), and its price-range filter",
        VISIBLE,
    ),
    _spec(
        CAT_NAME_PREFIX,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("name_lower", ASC), ("_id", ASC)],
        {"merchant_id": M, "visible": True, "name_lower": {"$regex": "^boo"}},
        [("name_lower", ASC), ("_id", ASC)],
        "a shop sorted by name, and search-as-you-type: an anchored prefix of the lower-cased name is an index range",
        VISIBLE,
    ),
    _spec(
        CAT_STOCK_STATUS_PRICE,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("stock_status", ASC), ("price_amount", ASC), ("_id", ASC)],
        {"merchant_id": M, "visible": True, "stock_status": "in_stock"},
        [("price_amount", ASC), ("_id", ASC)],
        '"in stock only" filter sorted by price',
        VISIBLE,
    ),
    _spec(
        CAT_RENAMED,
        CATALOG_PRODUCTS,
        [("merchant_id", ASC), ("merchant_version", ASC)],
        {"merchant_id": M, "merchant_version": {"$lt": "?version"}},
        (),
        "a merchant renamed: the projector rewrites its products still showing an older name "
        "(not partial: hidden products too)",
    ),
    _spec(
        CAT_ALL_NEWEST,
        CATALOG_PRODUCTS,
        [("visible", ASC), ("created_at", DESC), ("_id", DESC)],
        {"visible": True},
        [("created_at", DESC), ("_id", DESC)],
        "storefront listing across all shops, newest first (GET /v1/products without merchant)",
    ),
    _spec(
        CAT_ALL_PRICE,
        CATALOG_PRODUCTS,
        [("visible", ASC), ("price_amount", ASC), ("_id", ASC)],
        {"visible": True},
        [("price_amount", ASC), ("_id", ASC)],
        "storefront listing across all shops by price (either direction: the index is walked backwards)",
    ),
    _spec(
        CAT_ALL_NAME,
        CATALOG_PRODUCTS,
        [("visible", ASC), ("name_lower", ASC), ("_id", ASC)],
        {"visible": True},
        [("name_lower", ASC), ("_id", ASC)],
        "storefront listing across all shops by name",
    ),
    _spec(
        MP_NEWEST,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("created_at", DESC), ("_id", DESC)],
        {"merchant_id": M},
        [("created_at", DESC), ("_id", DESC)],
        "dashboard product list, newest first (the default sort)",
    ),
    _spec(
        MP_STATUS_NEWEST,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("status", ASC), ("created_at", DESC), ("_id", DESC)],
        {"merchant_id": M, "status": "draft"},
        [("created_at", DESC), ("_id", DESC)],
        "dashboard product list of one status (drafts, archived...), newest first",
    ),
    _spec(
        MP_UPDATED,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("updated_at", DESC), ("_id", DESC)],
        {"merchant_id": M},
        [("updated_at", DESC), ("_id", DESC)],
        "dashboard: recently edited products first",
    ),
    _spec(
        MP_PRICE,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("price_amount", ASC), ("_id", ASC)],
        {"merchant_id": M},
        [("price_amount", ASC), ("_id", ASC)],
        "dashboard product list sorted by price (either direction), and its price-range filter",
    ),
    _spec(
        MP_LOW_STOCK,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("stock", ASC), ("_id", ASC)],
        {"merchant_id": M, "stock": {"$lte": 5}},
        [("stock", ASC), ("_id", ASC)],
        "low-stock alert: products at or under a threshold, emptiest first",
    ),
    _spec(
        MP_BEST_SELLERS,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("units_sold", DESC), ("_id", DESC)],
        {"merchant_id": M},
        [("units_sold", DESC), ("_id", DESC)],
        "best sellers: most units sold first",
    ),
    _spec(
        MP_SKU,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("sku", ASC)],
        {"merchant_id": M, "sku": "?"},
        (),
        "dashboard lookup by SKU (exact)",
    ),
    _spec(
        MP_CATEGORY_NAME,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("category", ASC), ("name_lower", ASC), ("_id", ASC)],
        {"merchant_id": M, "category": "?"},
        [("name_lower", ASC), ("_id", ASC)],
        "dashboard category view, alphabetical",
    ),
    _spec(
        MP_NAME_PREFIX,
        MERCHANT_PRODUCTS,
        [("merchant_id", ASC), ("name_lower", ASC), ("_id", ASC)],
        {"merchant_id": M, "name_lower": {"$regex": "^boo"}},
        [("name_lower", ASC), ("_id", ASC)],
        "dashboard product list by name, and search by name prefix",
    ),
    _spec(
        CATEGORIES_BY_COUNT,
        CATEGORIES,
        [("merchant_id", ASC), ("product_count", DESC), ("category", ASC)],
        {"merchant_id": M},
        [("product_count", DESC), ("category", ASC)],
        "category menu: a merchant's categories, biggest first",
    ),
    _spec(
        ORD_PLACED,
        ORDERS,
        [("merchant_id", ASC), ("placed_at", DESC), ("_id", DESC)],
        {"merchant_id": M},
        [("placed_at", DESC), ("_id", DESC)],
        "dashboard order list, newest or oldest first, and its placed-date range",
    ),
    _spec(
        ORD_STATUS_PLACED,
        ORDERS,
        [("merchant_id", ASC), ("status", ASC), ("placed_at", DESC), ("_id", DESC)],
        {"merchant_id": M, "status": "paid"},
        [("placed_at", DESC), ("_id", DESC)],
        "order list of one or several statuses, newest or oldest first",
    ),
    _spec(
        ORD_CUSTOMER,
        ORDERS,
        [("merchant_id", ASC), ("customer_email", ASC), ("placed_at", DESC), ("_id", DESC)],
        {"merchant_id": M, "customer_email": "?"},
        [("placed_at", DESC), ("_id", DESC)],
        "a customer's order history",
    ),
    _spec(
        ORD_TOTAL,
        ORDERS,
        [("merchant_id", ASC), ("total", DESC), ("_id", DESC)],
        {"merchant_id": M},
        [("total", DESC), ("_id", DESC)],
        "orders by total (biggest or smallest first), and a total range",
    ),
    _spec(
        ORD_PRODUCT,
        ORDERS,
        [("merchant_id", ASC), ("lines.product_id", ASC), ("placed_at", DESC), ("_id", DESC)],
        {"merchant_id": M, "lines.product_id": "?"},
        [("placed_at", DESC), ("_id", DESC)],
        "orders containing a product (multikey on the lines)",
    ),
    _spec(
        ORD_OPEN_QUEUE,
        ORDERS,
        [("merchant_id", ASC), ("placed_at", ASC), ("_id", ASC)],
        {"merchant_id": M, "open": True},
        [("placed_at", ASC), ("_id", ASC)],
        "fulfilment queue: open orders (placed, confirmed, paid), oldest first",
        {"open": True},
    ),
    _spec(
        ORD_TRACKING,
        ORDERS,
        [("merchant_id", ASC), ("tracking_number", ASC)],
        {"merchant_id": M, "tracking_number": "?"},
        (),
        "support lookup by carrier tracking number",
    ),
    *(
        _spec(
            name,
            collection,
            [("key", ASC), ("source", ASC)],
            {"key": "?"},
            (),
            "the projector reads every counter of the derived documents a batch touched ({key: {$in: [...]}})",
        )
        for name, collection in (
            (CATEGORY_COUNTERS_KEY, CATEGORY_COUNTERS),
            (STATS_COUNTERS_KEY, MERCHANT_STATS_COUNTERS),
        )
    ),
)

# Indexes once declared and no longer: dropped where they exist (they would be written on
# every projector batch and serve nothing). A changed key list gets a new name, because
# createIndexes keeps an existing index of the same name whatever its keys.
RETIRED: tuple[tuple[str, str], ...] = (
    (CATALOG_PRODUCTS, "cat_merchant_updated"),  # no "changed since" feed reads it
    (CATALOG_PRODUCTS, "cat_merchant_sku"),  # the storefront has no lookup by SKU
    (MERCHANT_PRODUCTS, "mp_merchant_status_updated"),  # now mp_merchant_status_newest
    (MERCHANT_PRODUCTS, "mp_merchant_units_sold"),  # _id ascending: now mp_merchant_best_sellers
    (ORDERS, "orders_merchant_updated"),  # no "changed since" feed reads it
    (ORDERS, "orders_merchant_customer"),  # without _id: now orders_merchant_customer_placed
    (ORDERS, "orders_merchant_product"),  # without _id: now orders_merchant_product_placed
    (MERCHANT_STATS, "stats_merchant_day"),  # the stats route reads an _id range
    (ORDERS, "orders_merchant_day"),  # merchant_stats is incremental: no recompute from a day's orders
)


def for_collection(collection: str) -> tuple[IndexSpec, ...]:
    return tuple(spec for spec in INDEXES if spec.collection == collection)


def by_name(name: str) -> IndexSpec:
    return next(spec for spec in INDEXES if spec.name == name)


# --- creating them --------------------------------------------------------------------------
PROBE = "_capability_probe"


async def supports_partial_indexes(db: Database) -> bool:
    """Detected (a partial index on a scratch collection), not assumed from the server name."""
    try:
        await db[PROBE].create_index(
            [("probe", 1)], name="probe_partial", partialFilterExpression={"probe": {"$exists": True}}
        )
        return True
    except OperationFailure as exc:
        log.debug("partial indexes not supported: %s", exc)
        return False
    finally:
        await db.drop_collection(PROBE)


def index_model(spec: IndexSpec, partial: bool) -> IndexModel:
    if spec.partial and partial:
        return IndexModel(list(spec.keys), name=spec.name, partialFilterExpression=spec.partial)
    keys = spec.fallback_keys() if spec.partial else spec.keys
    return IndexModel(list(keys), name=spec.name)


async def drop_retired_indexes(db: Database, collections: dict[str, str] | None = None) -> int:
    """Drop the ``RETIRED`` indexes that exist (another process may drop one first: fine)."""
    dropped = 0
    for collection, name in RETIRED:
        if collections is not None and collection not in collections:
            continue
        target = db[collections[collection] if collections else collection]
        if name not in await target.index_information():  # (FerretDB drops "nothing" without an error)
            continue
        try:
            await target.drop_index(name)
            dropped += 1
        except OperationFailure as exc:
            if exc.code not in _NO_SUCH_INDEX:
                raise
    return dropped


_NO_SUCH_INDEX = {26, 27}  # NamespaceNotFound, IndexNotFound


class IndexReport(TypedDict):
    partial: bool  # the server has partial indexes
    created: int  # indexes ensured (created or already there)
    dropped: int  # retired indexes dropped


async def ensure_read_model_indexes(db: Database, collections: dict[str, str] | None = None) -> IndexReport:
    """Create every read-model index (or those of ``collections``: logical -> physical),
    and drop the retired ones.

    Where the server has no partial indexes (FerretDB v1), each partial one is created as
    a full index under the same name with the filtered fields in its keys, with a warning.
    Returns ``{"partial": bool, "created": n, "dropped": n}``.
    """
    partial = await supports_partial_indexes(db)
    if not partial:
        log.warning(
            "this server has no partial indexes: creating %d of them as full indexes "
            "(same names, filtered fields added to the keys)",
            sum(1 for s in INDEXES if s.partial),
        )
    created = 0
    for spec in INDEXES:
        if collections is not None and spec.collection not in collections:
            continue
        physical = collections[spec.collection] if collections else spec.collection
        await ensure_indexes(db[physical], [index_model(spec, partial)])
        created += 1
    return IndexReport(partial=partial, created=created, dropped=await drop_retired_indexes(db, collections))
