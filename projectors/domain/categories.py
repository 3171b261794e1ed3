"""``categories``: per merchant and category, how many products it holds and their price range.

A product contributes to its category while it is not archived: one to ``total_count``,
one to ``product_count`` and its price to the range while it is published. The projector
adds each product's ``new - old`` contribution (``projectors.application.derived``);
``from_products`` computes the same documents from scratch (the reference the tests
compare with).
"""

from __future__ import annotations

from collections.abc import Iterable

from shared.read_models import CATEGORIES, CATEGORY_COUNTERS, CategoryDoc, Sources, stored_int

from projectors.domain.contributions import Contribution, Counts, Doc

COLLECTION = CATEGORIES
COUNTERS = CATEGORY_COUNTERS


def category_id(merchant_id: str, category: str) -> str:
    return f"{merchant_id}:{category}"


def contribution(product: Doc) -> dict[str, Contribution]:
    if product["status"] == "archived":
        return {}
    published = product["status"] == "published"
    identity = {"merchant_id": product["merchant_id"], "category": product["category"]}
    return {
        category_id(product["merchant_id"], product["category"]): Contribution(
            identity,
            {"product_count": int(published), "total_count": 1},
            price=product["price_amount"] if published else None,
        )
    }


def document(
    key: str,
    identity: dict[str, str],
    counts: Counts,
    price_range: tuple[int | None, int | None],
    version: int = 0,
    sources: Sources | None = None,
) -> CategoryDoc:
    return {
        "_id": key,
        "merchant_id": identity["merchant_id"],
        "category": identity["category"],
        "product_count": stored_int(counts.get("product_count", 0)),
        "total_count": stored_int(counts.get("total_count", 0)),
        "min_price": price_range[0],
        "max_price": price_range[1],
        "version": version,
        "sources": sources or [],
    }


def from_products(products: Iterable[Doc]) -> dict[str, CategoryDoc]:
    """Every category document computed from scratch (no version, no sources)."""
    counts: dict[str, Counts] = {}
    identities: dict[str, dict[str, str]] = {}
    prices: dict[str, list[int]] = {}
    for product in products:
        for key, c in contribution(product).items():
            identities[key] = dict(c.identity)
            total = counts.setdefault(key, {})
            for name, n in c.counts.items():
                total[name] = total.get(name, 0) + n
            if c.price is not None:
                prices.setdefault(key, []).append(c.price)
    return {
        key: document(
            key,
            identities[key],
            counts[key],
            (min(prices[key]), max(prices[key])) if key in prices else (None, None),
        )
        for key in counts
    }
