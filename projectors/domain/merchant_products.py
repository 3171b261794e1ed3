"""``merchant_products``: the dashboard's view of a product — every status, exact stock,
units sold. Its document is also the product's projection *state*: ``catalog_products``
and ``categories`` are derived from it.

``evolve(state, event, data)`` is pure: the previous document (or ``None``) and one event
give the next document. The engine (``projectors.application.engine``) folds a batch of events onto
the stored documents and writes whole documents, version-guarded.
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.events import EventEnvelope
from shared.events import products as ev
from shared.read_models import MERCHANT_PRODUCTS

from projectors.domain.contributions import Doc
from projectors.domain.errors import Unprojectable
from projectors.domain.values import int64, millis

COLLECTION = MERCHANT_PRODUCTS

LOW_STOCK_THRESHOLD = 5


def stock_status(stock: int, low_threshold: int = LOW_STOCK_THRESHOLD) -> str:
    if stock <= 0:
        return "out_of_stock"
    return "low_stock" if stock <= low_threshold else "in_stock"


def created(event: EventEnvelope, data: ev.ProductCreated) -> Doc:
    at = millis(event.occurred_at)
    return {
        "_id": event.aggregate_id,
        "merchant_id": event.merchant_id,
        "merchant_name": None,
        "merchant_version": 0,
        "sku": data.sku,
        "name": data.name,
        "name_lower": data.name.lower(),
        "description": data.description,
        "category": data.category,
        "price": data.price.model_dump(),
        "price_amount": int64(data.price.amount, "price"),
        "stock": int64(data.stock, "stock"),
        "stock_status": stock_status(data.stock),
        "units_sold": 0,
        "attributes": dict(data.attributes),
        "tags": list(data.tags),
        "status": data.status,
        "visible": data.status == "published",
        "created_at": at,
        "updated_at": at,
        "archived_at": None,
    }


def _with_status(doc: Doc, status: str) -> Doc:
    return {**doc, "status": status, "visible": status == "published"}


def _with_stock(doc: Doc, stock: int, sold_delta: int = 0) -> Doc:
    return {
        **doc,
        "stock": int64(stock, "stock"),
        "stock_status": stock_status(stock),
        "units_sold": int64(doc["units_sold"] + sold_delta, "units sold"),
    }


def evolve(state: Doc | None, event: EventEnvelope, data: BaseModel) -> Doc:
    if isinstance(data, ev.ProductCreated):
        if state is not None:
            raise Unprojectable(f"product {event.aggregate_id} created twice")
        doc = created(event, data)
    elif state is None:
        raise Unprojectable(f"{event.type} before ProductCreated")
    elif isinstance(data, ev.ProductDetailsUpdated):
        changed = data.model_dump(exclude_none=True)
        doc = {**state, **changed}
        if data.name is not None:
            doc["name_lower"] = data.name.lower()
    elif isinstance(data, ev.ProductPriceChanged):
        doc = {**state, "price": data.price.model_dump(), "price_amount": int64(data.price.amount, "price")}
    elif isinstance(data, ev.ProductStockAdjusted):
        doc = _with_stock(state, data.stock)
    elif isinstance(data, ev.ProductPublished):
        doc = _with_status(state, "published")
    elif isinstance(data, ev.ProductUnpublished):
        doc = _with_status(state, "draft")
    elif isinstance(data, ev.ProductArchived):
        doc = {**_with_status(state, "archived"), "archived_at": millis(event.occurred_at)}
    elif isinstance(data, ev.StockReserved):
        doc = _with_stock(state, data.stock, data.quantity)
    elif isinstance(data, ev.StockReleased):
        doc = _with_stock(state, data.stock, -data.quantity)
    else:
        raise Unprojectable(f"{event.type} is not a product event")
    doc["updated_at"] = millis(event.occurred_at)
    doc["version"] = int64(event.aggregate_version, "version")
    return doc
