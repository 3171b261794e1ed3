"""``categories``: per merchant, how many products each category holds.

Derived from ``merchant_products`` after each batch, for every merchant the batch touched
(see ``merchant_stats`` for why derived beats ``$inc``). ``version`` is the sum of the
merchant's product versions, which only grows, so a stale concurrent recomputation never
overwrites a newer one. Categories left with no live product disappear.
"""

from __future__ import annotations

from collections import Counter

from shared.read_models import CATEGORIES as COLLECTION  # noqa: F401 (re-export)

SOURCE_FIELDS = ("category", "status", "version")


def category_id(merchant_id: str, category: str) -> str:
    return f"{merchant_id}:{category}"


def categories_for(merchant_id: str, products: list[dict]) -> tuple[int, list[dict]]:
    """``(version, documents)`` for one merchant's products."""
    version = sum(p["version"] for p in products)
    published = Counter(p["category"] for p in products if p["status"] == "published")
    live = Counter(p["category"] for p in products if p["status"] != "archived")
    return version, [
        {
            "_id": category_id(merchant_id, category),
            "merchant_id": merchant_id,
            "category": category,
            "product_count": published[category],
            "total_count": count,
            "version": version,
        }
        for category, count in sorted(live.items())
    ]
