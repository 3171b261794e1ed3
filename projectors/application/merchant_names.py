"""Merchant names in products: products and renames arrive on different streams.

Products carry a denormalised ``merchant_name`` (storefronts show it without a join) and
the ``merchant_version`` it came with. A product is written with the name known at the
time (``fill_merchant_names``); a merchant's later name reaches its products through
``apply_renames``, run by whoever owns their products partition — each product document
has that one writer, so a rename can never write back an older version of a product that
its stream just replaced (FerretDB v1 runs an update as read, then write). How a rename
gets to every products partition is the entry points' business (a fan-out topic).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from shared.invalidation import Change
from shared.read_models import CATALOG_PRODUCTS, MERCHANT_NAMES, MERCHANT_PRODUCTS

from projectors.application.ports import Doc, ReadModelStore

PRODUCT_COLLECTIONS = (MERCHANT_PRODUCTS, CATALOG_PRODUCTS)


@dataclass(frozen=True)
class Rename:
    merchant_id: str
    name: str
    version: int

    @classmethod
    def of(cls, merchant: Doc) -> Rename:
        return cls(merchant["_id"], merchant["name"], merchant["version"])


async def fill_merchant_names(store: ReadModelStore, products: dict[str, Doc]) -> None:
    """Give products about to be written the merchant's name known so far."""
    known = await store.find_ids(MERCHANT_NAMES, sorted({p["merchant_id"] for p in products.values()}))
    for product in products.values():
        merchant = known.get(product["merchant_id"])
        if merchant and product["merchant_version"] < merchant["version"]:
            product.update(merchant_name=merchant["name"], merchant_version=merchant["version"])


async def apply_renames(store: ReadModelStore, renames: Iterable[Rename], owns: Callable[[str], bool]) -> list[Change]:
    """Each merchant's name into its products that ``owns`` (their partition's) and that
    hold an older one."""
    changes = []
    for rename in renames:
        for collection in PRODUCT_COLLECTIONS:  # each on its own: a view may lag its state
            found = await store.older_ids(
                collection, {"merchant_id": rename.merchant_id}, "merchant_version", rename.version
            )
            ids = [i for i in found if owns(i)]
            if ids:
                await store.set_merchant_name(collection, ids, rename.name, rename.version)
                changes.append(Change(collection, rename.merchant_id, tuple(ids)))
    return changes
