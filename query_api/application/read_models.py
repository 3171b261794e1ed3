"""The read models this API serves, and the fields a client may see of each (those of the
typed documents in ``query_api.application.documents``).

A view maps the public field names to the stored ones (``id`` is ``_id``); internal
bookkeeping (``visible``, ``name_lower``, ``price_amount``, ``customer_email``) stays in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from query_api.application.documents import MerchantProduct, Order, Product, item_fields

__all__ = [
    "CATALOG_PRODUCTS",
    "CATEGORIES",
    "MERCHANT_PRODUCTS",
    "MERCHANT_STATS",
    "ORDERS",
    "View",
    "PRODUCT_VIEW",
    "MERCHANT_PRODUCT_VIEW",
    "ORDER_VIEW",
    "public_product",
]


@dataclass(frozen=True)
class View:
    fields: tuple[str, ...]

    def projection(self, requested: tuple[str, ...] | None, extra: tuple[str, ...] = ()) -> dict[str, Any]:
        """A MongoDB projection of the requested fields (all when None) plus ``extra``."""
        wanted = requested or self.fields
        projection = {("_id" if f == "id" else f): 1 for f in (*wanted, *extra)}
        projection.setdefault("_id", 1)
        return projection

    def render(self, doc: dict[str, Any], requested: tuple[str, ...] | None = None) -> dict[str, Any]:
        out = {}
        for field in requested or self.fields:
            key = "_id" if field == "id" else field
            if key in doc:
                value = doc[key]
                out[field] = value.isoformat() if hasattr(value, "isoformat") else value
        return out


PRODUCT_VIEW = View(item_fields(Product))
MERCHANT_PRODUCT_VIEW = View(item_fields(MerchantProduct))
ORDER_VIEW = View(item_fields(Order))


def public_product(doc: dict[str, Any]) -> dict[str, Any]:
    return PRODUCT_VIEW.render(doc)
