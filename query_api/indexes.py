"""The indexes the query API's reads rely on (keyset pagination: filter keys, then the sort
key, then ``_id``). Created at start, one at a time; if the projectors already created an
equivalent index under another name, that one serves and the conflict is only logged."""

from __future__ import annotations

from pymongo import ASCENDING as A
from pymongo import DESCENDING as D
from pymongo import IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.mongo import ensure_indexes

from query_api.read_models import CATALOG_PRODUCTS, MERCHANT_PRODUCTS, ORDERS

INDEXES = {
    CATALOG_PRODUCTS: [
        IndexModel([("visible", A), ("created_at", D), ("_id", D)], name="q_catalog_newest"),
        IndexModel([("visible", A), ("price_amount", A), ("_id", A)], name="q_catalog_price"),
        IndexModel([("visible", A), ("name_lower", A), ("_id", A)], name="q_catalog_name"),
        IndexModel([("merchant_id", A), ("visible", A), ("created_at", D), ("_id", D)],
                   name="q_catalog_merchant_newest"),
    ],
    MERCHANT_PRODUCTS: [
        IndexModel([("merchant_id", A), ("created_at", D), ("_id", D)], name="q_mproducts_newest"),
    ],
    ORDERS: [
        IndexModel([("merchant_id", A), ("placed_at", D), ("_id", D)], name="q_orders_newest"),
        IndexModel([("merchant_id", A), ("customer_email", A), ("placed_at", D)],
                   name="q_orders_customer"),
    ],
}


async def ensure_query_indexes(db: AsyncDatabase) -> None:
    for collection, indexes in INDEXES.items():
        await ensure_indexes(db[collection], indexes)
