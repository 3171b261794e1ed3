"""``catalog_products``: what storefronts read.

One document per product. Hidden products (drafts, archived) keep their document with
``visible: false`` so the per-document version guard still works; storefront queries
filter on ``visible``.

Idempotence: every update is guarded by the document's ``version``. The first event of a
product upserts only while no newer document exists; a duplicate therefore hits the
unique ``_id`` and is counted as already applied. Later events update only the document
at exactly their predecessor version, so a replayed event is a no-op and an event that
arrives ahead of a missing one is never applied out of order.
"""

from __future__ import annotations

from pymongo import UpdateOne

from shared.events import EventEnvelope, decode_data
from shared.events import products as ev

from shared.read_models import CATALOG_PRODUCTS as COLLECTION


def stock_status(stock: int, low_threshold: int = 5) -> str:
    if stock <= 0:
        return "out_of_stock"
    return "low_stock" if stock <= low_threshold else "in_stock"


def project(event: EventEnvelope) -> list[UpdateOne]:
    """The updates one event makes to this read model (none if it does not concern it)."""
    data = decode_data(event)
    if isinstance(data, ev.ProductCreated):
        return [UpdateOne(
            {"_id": event.aggregate_id, "version": {"$lt": event.aggregate_version}},
            {"$set": {
                "merchant_id": event.merchant_id,
                "sku": data.sku, "name": data.name, "description": data.description,
                "category": data.category,
                "price": data.price.model_dump(), "price_amount": data.price.amount,
                "stock": data.stock, "stock_status": stock_status(data.stock),
                "attributes": data.attributes, "tags": data.tags, "status": data.status,
                "visible": data.status == "published",
                "created_at": event.occurred_at, "updated_at": event.occurred_at,
                "version": event.aggregate_version,
            }},
            upsert=True,
        )]
    return []
