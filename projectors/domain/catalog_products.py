"""``catalog_products``: what storefronts read.

One document per product, derived from the ``merchant_products`` document (the product's
projection state) by dropping what a storefront must not see: exact stock, units sold.
Hidden products (drafts, archived) keep their document with ``visible: false`` so the
version guard still works; storefront queries filter on ``visible`` (and the partial
indexes of ``shared.read_model_indexes`` cover only visible documents on MongoDB).
"""

from __future__ import annotations

from shared.read_models import CATALOG_PRODUCTS

from projectors.domain.contributions import Doc
from projectors.domain.merchant_products import stock_status  # noqa: F401 (re-export)

COLLECTION = CATALOG_PRODUCTS

PRIVATE_FIELDS = ("stock", "units_sold", "archived_at")


def view(product: Doc) -> Doc:
    return {k: v for k, v in product.items() if k not in PRIVATE_FIELDS}
