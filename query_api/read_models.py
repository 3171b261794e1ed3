"""The read models this API serves, and the fields a client may see of each."""

from __future__ import annotations

from shared.read_models import CATALOG_PRODUCTS

# Public view of a catalogue product: internal bookkeeping (visible, version) stays in.
PRODUCT_FIELDS = ("id", "merchant_id", "sku", "name", "description", "category", "price",
                  "stock_status", "attributes", "tags", "created_at", "updated_at", "version")


def public_product(doc: dict) -> dict:
    out = {"id": doc["_id"]}
    for field in PRODUCT_FIELDS[1:]:
        if field in doc:
            value = doc[field]
            out[field] = value.isoformat() if hasattr(value, "isoformat") else value
    return out
