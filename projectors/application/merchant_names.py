"""Merchant names in products: products and renames arrive on different streams.

Products carry a denormalised ``merchant_name`` (storefronts show it without a join). Both
sides write their own documents and *then* copy the name across, guarded by
``merchant_version`` (a product's own ``version`` does not move for a rename): whichever
side writes last sees the other's write, so no product keeps a stale name.
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.invalidation import Change
from shared.read_models import CATALOG_PRODUCTS, MERCHANT_NAMES, MERCHANT_PRODUCTS

from projectors.application.ports import Doc, ReadModelStore

PRODUCT_COLLECTIONS = (MERCHANT_PRODUCTS, CATALOG_PRODUCTS)


async def _known(store: ReadModelStore, merchant_ids: Iterable[str]) -> dict[str, Doc]:
    return await store.find_ids(MERCHANT_NAMES, sorted(set(merchant_ids)))


async def fill_merchant_names(store: ReadModelStore, products: dict[str, Doc]) -> None:
    """Give products about to be written the merchant's name known so far."""
    known = await _known(store, (p["merchant_id"] for p in products.values()))
    for product in products.values():
        merchant = known.get(product["merchant_id"])
        if merchant and product["merchant_version"] < merchant["version"]:
            product.update(merchant_name=merchant["name"], merchant_version=merchant["version"])


async def propagate(store: ReadModelStore, merchants: list[Doc]) -> list[Change]:
    """Copy each merchant's name into its products that hold an older one."""
    changes = []
    for collection in PRODUCT_COLLECTIONS:
        await store.copy_merchant_names(collection, merchants)
        changes += [Change(collection, m["_id"]) for m in merchants]
    return changes


async def after_products(store: ReadModelStore, products: list[Doc]) -> list[Change]:
    """Products written before their merchant's latest rename reached them get it now."""
    known = await _known(store, (p["merchant_id"] for p in products))
    stale = [
        m
        for m in known.values()
        if any(p["merchant_id"] == m["_id"] and p["merchant_version"] < m["version"] for p in products)
    ]
    return await propagate(store, stale) if stale else []
