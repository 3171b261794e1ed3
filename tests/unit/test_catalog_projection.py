from __future__ import annotations

from projectors.catalog_products import project, stock_status
from shared.events import EventEnvelope


def created(version: int = 1, status: str = "published", stock: int = 10) -> EventEnvelope:
    return EventEnvelope(type="ProductCreated", aggregate_type="product", aggregate_id="p1",
                         aggregate_version=version, merchant_id="m1", correlation_id="c",
                         data={"sku": "A", "name": "N", "category": "c", "status": status,
                               "price": {"amount": 250, "currency": "EUR"}, "stock": stock})


def test_created_upserts_guarded_by_version():
    [update] = project(created())
    assert update._filter == {"_id": "p1", "version": {"$lt": 1}}
    assert update._upsert is True
    doc = update._doc["$set"]
    assert doc["price_amount"] == 250 and doc["visible"] is True and doc["version"] == 1


def test_drafts_are_not_visible():
    [update] = project(created(status="draft"))
    assert update._doc["$set"]["visible"] is False


def test_stock_status_thresholds():
    assert [stock_status(n) for n in (0, 1, 5, 6)] == ["out_of_stock", "low_stock", "low_stock", "in_stock"]
