"""What the engine does around the pure folds: derived read models and merchant names.

``merchant_stats`` and ``categories`` are recomputed from their (version-guarded) source
documents for every touched key — see those modules for why that beats ``$inc``. The
recomputed documents are written with the same ``version < new`` guard as everything
else, ``version`` being the sum of the source versions (monotonic, see there).
"""

from __future__ import annotations

from pymongo import UpdateMany
from pymongo.asynchronous.database import AsyncDatabase

from shared.invalidation import Change
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_NAMES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from projectors.adapters.bulk import apply_updates, swap_newer
from projectors.domain import categories, merchant_stats

PRODUCT_COLLECTIONS = (MERCHANT_PRODUCTS, CATALOG_PRODUCTS)


async def _merchant_names(db: AsyncDatabase, names, merchant_ids) -> dict[str, dict]:
    cursor = db[names[MERCHANT_NAMES]].find({"_id": {"$in": sorted(merchant_ids)}}, {"name": 1, "version": 1})
    return {doc["_id"]: doc async for doc in cursor}


async def fill_merchant_names(db: AsyncDatabase, names, products: dict[str, dict]) -> None:
    """Give products about to be written the merchant's name known so far."""
    known = await _merchant_names(db, names, {p["merchant_id"] for p in products.values()})
    for product in products.values():
        merchant = known.get(product["merchant_id"])
        if merchant and product["merchant_version"] < merchant["version"]:
            product.update(merchant_name=merchant["name"], merchant_version=merchant["version"])


async def propagate_merchant_names(db: AsyncDatabase, names, merchants: list[dict]) -> list[Change]:
    """Copy each merchant's name into its products that hold an older one.

    Called by both sides *after* their own write: a product written concurrently with a
    rename is fixed by whichever of the two calls runs last. The guard is
    ``merchant_version`` (a product's own ``version`` does not move for a rename).
    """
    changes = []
    for collection in PRODUCT_COLLECTIONS:
        target = db[names[collection]]
        if names.writer.scans:
            await _swap_names(target, merchants)
        else:
            await apply_updates(
                target,
                [
                    UpdateMany(
                        {"merchant_id": m["_id"], "merchant_version": {"$lt": m["version"]}},
                        {"$set": {"merchant_name": m["name"], "merchant_version": m["version"]}},
                    )
                    for m in merchants
                ],
            )
        changes += [Change(collection, m["_id"]) for m in merchants]
    return changes


async def _swap_names(target, merchants: list[dict]) -> None:
    """FerretDB-SQLite: an ``update_many`` rewrites each matched document with its own
    collection scan; read the stale products once and swap them in one batch instead
    (``projectors.adapters.bulk.swap_newer``), guarded by both versions."""
    by_id = {m["_id"]: m for m in merchants}
    stale = await target.find(
        {"$or": [{"merchant_id": m["_id"], "merchant_version": {"$lt": m["version"]}} for m in merchants]}
    ).to_list()
    renamed = [
        {**p, "merchant_name": by_id[p["merchant_id"]]["name"], "merchant_version": by_id[p["merchant_id"]]["version"]}
        for p in stale
    ]
    if renamed:
        await swap_newer(
            target,
            renamed,
            lambda docs: [
                {
                    "$or": [
                        {"_id": d["_id"], "version": d["version"], "merchant_version": {"$lt": d["merchant_version"]}}
                        for d in docs
                    ]
                }
            ],
            lambda stored, doc: (
                stored["version"] == doc["version"] and stored["merchant_version"] < doc["merchant_version"]
            ),
        )


async def after_merchants(db: AsyncDatabase, names, merchants: list[dict]) -> list[Change]:
    return await propagate_merchant_names(db, names, merchants)


async def after_products(db: AsyncDatabase, names, products: list[dict]) -> list[Change]:
    merchant_ids = sorted({p["merchant_id"] for p in products})
    known = await _merchant_names(db, names, merchant_ids)
    stale = [
        m
        for m in known.values()
        if any(p["merchant_id"] == m["_id"] and p["merchant_version"] < m["version"] for p in products)
    ]
    changes = await propagate_merchant_names(db, names, stale) if stale else []
    return changes + await recompute_categories(db, names, merchant_ids)


async def recompute_categories(db: AsyncDatabase, names, merchant_ids: list[str]) -> list[Change]:
    sources: dict[str, list[dict]] = {m: [] for m in merchant_ids}
    fields = dict.fromkeys(categories.SOURCE_FIELDS, 1) | {"merchant_id": 1}
    async for product in db[names[MERCHANT_PRODUCTS]].find({"merchant_id": {"$in": merchant_ids}}, fields):
        sources[product["merchant_id"]].append(product)
    target = db[names[CATEGORIES]]
    writes = []
    for merchant_id, products in sources.items():
        version, docs = categories.categories_for(merchant_id, products)
        writes += docs
        await target.delete_many(
            {"merchant_id": merchant_id, "_id": {"$nin": [d["_id"] for d in docs]}, "version": {"$lt": version}}
        )
    await names.writer.write_newer(target, writes)
    return [Change(CATEGORIES, m) for m in merchant_ids]


async def after_orders(db: AsyncDatabase, names, orders: list[dict]) -> list[Change]:
    """Recompute every touched (merchant, day) bucket from its orders.

    One read for the whole batch (merchants x days, a superset, filtered here): on
    FerretDB every non-``_id`` filter scans the collection, so one query per bucket
    cost one scan each; on MongoDB it is ranges of ``orders_merchant_day``.
    """
    buckets = {(o["merchant_id"], o["placed_day"]): [] for o in orders}
    fields = dict.fromkeys(merchant_stats.SOURCE_FIELDS, 1) | {"merchant_id": 1, "placed_day": 1}
    query = {
        "merchant_id": {"$in": sorted({m for m, _ in buckets})},
        "placed_day": {"$in": sorted({d for _, d in buckets})},
    }
    async for order in db[names[ORDERS]].find(query, fields):
        bucket = buckets.get((order["merchant_id"], order["placed_day"]))
        if bucket is not None:
            bucket.append(order)
    # In a stable order (storage order changes as documents are rewritten): the name a
    # top product shows is the one of its latest order.
    docs = [
        merchant_stats.stats_for(m, d, sorted(found, key=lambda o: (o["placed_at"], o["_id"])))
        for (m, d), found in sorted(buckets.items())
    ]
    await names.writer.write_newer(db[names[MERCHANT_STATS]], docs)
    return [Change(MERCHANT_STATS, d["merchant_id"], (d["_id"],)) for d in docs]
