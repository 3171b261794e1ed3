"""The seeded catalogue the query-side pairs read, and the catalogue page they compare.

Read-model documents are written straight into the run's database (the projectors are
measured on their own); ``seed`` is also what ``loadtests.bench_queries`` uses.
"""

from __future__ import annotations

import random

from shared import mongo
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES
from shared.settings import ServerSettings

from merchant_testkit.read_models import CATEGORIES as CATEGORY_NAMES
from merchant_testkit.read_models import product_doc
from query_api.application.filters import PRODUCT_SORTS
from query_api.application.listing import ListQuery
from query_api.application.pagination import PageRequest
from query_api.application.read_models import PRODUCT_VIEW

PAGE_LIMIT = 20


async def seed(settings: ServerSettings, n_products: int, n_merchants: int) -> tuple[list[dict], list[str]]:
    """Published products spread over merchants, and their category counts."""
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    merchants = [f"bench-m{i}" for i in range(n_merchants)]
    rng = random.Random(1)
    products = [product_doc(merchants[i % n_merchants], i, rng) for i in range(n_products)]
    for start_at in range(0, n_products, 1000):
        await db[CATALOG_PRODUCTS].insert_many(products[start_at : start_at + 1000])
    await db[CATEGORIES].insert_many(
        [
            {"_id": f"{m}:{c}", "merchant_id": m, "category": c, "product_count": n_products // n_merchants // 5}
            for m in merchants
            for c in CATEGORY_NAMES
        ]
    )
    await client.close()
    return products, merchants


async def seeded(bench, n_products: int) -> list[str]:
    """The run's catalogue, seeded by the first group that needs it; its merchants."""
    if "merchants" not in bench.shared:
        _, bench.shared["merchants"] = await seed(bench.settings, n_products, 10)
    return bench.shared["merchants"]


def page_path(merchant: str) -> str:
    """The catalogue page every query-side pair serves: a merchant's first page, newest first."""
    return f"/v1/products?merchant={merchant}&limit={PAGE_LIMIT}"


def page_query(db, merchant: str) -> ListQuery:
    """What the query API loads for ``page_path(merchant)`` on a miss (the same filter,
    projection, sort and limit as ``list_products``)."""
    return ListQuery(
        db[CATALOG_PRODUCTS],
        {"visible": True, "merchant_id": merchant},
        PRODUCT_VIEW,
        PRODUCT_SORTS["newest"],
        PageRequest(PAGE_LIMIT, None, None, "newest"),
        None,
    )
