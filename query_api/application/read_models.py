"""The read models this API serves, and the fields a client may see of each.

A view maps the public field names to the stored ones (``id`` is ``_id``); internal
bookkeeping (``visible``, ``name_lower``, ``price_amount``, ``customer_email``) stays in.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

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

    def projection(self, requested: tuple[str, ...] | None, extra: tuple[str, ...] = ()) -> dict:
        """A MongoDB projection of the requested fields (all when None) plus ``extra``."""
        wanted = requested or self.fields
        projection = {("_id" if f == "id" else f): 1 for f in (*wanted, *extra)}
        projection.setdefault("_id", 1)
        return projection

    def render(self, doc: dict, requested: tuple[str, ...] | None = None) -> dict:
        out = {}
        for field in requested or self.fields:
            key = "_id" if field == "id" else field
            if key in doc:
                value = doc[key]
                out[field] = value.isoformat() if hasattr(value, "isoformat") else value
        return out


PRODUCT_VIEW = View(
    (
        "id",
        "merchant_id",
        "merchant_name",
        "sku",
        "name",
        "description",
        "category",
        "price",
        "stock_status",
        "attributes",
        "tags",
        "created_at",
        "updated_at",
        "version",
    )
)
MERCHANT_PRODUCT_VIEW = View((*PRODUCT_VIEW.fields, "status", "visible", "stock", "units_sold", "archived_at"))
ORDER_VIEW = View(
    (
        "id",
        "merchant_id",
        "customer",
        "shipping_address",
        "lines",
        "currency",
        "item_count",
        "total",
        "status",
        "status_history",
        "payment_reference",
        "carrier",
        "tracking_number",
        "placed_at",
        "updated_at",
        "version",
    )
)


def public_product(doc: dict) -> dict:
    return PRODUCT_VIEW.render(doc)
