"""The analytics counters on MongoDB (``workers.application.analytics`` says what they are).

Per batch: one read each of the batch's facts, its merchants' counters and its customers
(``$in`` by ``_id``), then one unordered ``bulk_write`` each for counters, customers and
facts, and one for the merchants' change marks. Counters and customers are updated
conditionally on the offsets read (``_id`` and each touched ``offsets.p<n>`` as they
were, upserting a missing document): if another consumer moved them meanwhile the
update matches nothing, its upsert hits the unique ``_id``, and the batch is raised for
redelivery. The read model is rewritten from the counters for merchants marked changed.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, IndexModel, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import utc_now
from shared.mongo import ensure_indexes
from shared.worker_read_models import MERCHANT_ANALYTICS, MerchantAnalytics

from workers.application.analytics import COUNTERS, CUSTOMERS, DIRTY, FACTS, Fact, Increments, Offsets, read_model

CUSTOMER_INDEXES = [IndexModel([("merchant_id", ASCENDING), ("orders", ASCENDING)], name="customers_by_merchant")]


class AnalyticsStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db

    async def create_indexes(self) -> None:
        await ensure_indexes(self._db[CUSTOMERS], CUSTOMER_INDEXES)

    async def facts(self, order_ids: list[str]) -> dict[str, Fact]:
        return await self._by_id(FACTS, order_ids)

    async def offsets(self, collection: str, ids: list[str]) -> dict[str, Offsets]:
        docs = await self._by_id(collection, ids, {"offsets": 1})
        return {i: doc.get("offsets", {}) for i, doc in docs.items()}

    async def _by_id(self, collection: str, ids: list[str], fields: dict[str, int] | None = None) -> dict[str, Any]:
        if not ids:
            return {}
        cursor = self._db[collection].find({"_id": {"$in": ids}}, fields)
        return {doc["_id"]: doc async for doc in cursor}

    async def apply(self, inc: Increments, counted: dict[str, Offsets], customers: dict[str, Offsets]) -> None:
        """Counters and customers first (conditional on ``counted``/``customers`` as read),
        then the facts, then the change marks."""
        counter_updates = [
            _guarded(merchant, counted.get(merchant, {}), inc.counted[merchant], {"$inc": dict(paths)})
            for merchant, paths in inc.counters.items()
        ]
        customer_updates = [
            _guarded(key, customers.get(key, {}), inc.counted[key], {"$inc": {"orders": n}, "$set": {"merchant_id": m}})
            for key, (m, n) in inc.customers.items()
        ]
        for collection, updates in ((COUNTERS, counter_updates), (CUSTOMERS, customer_updates)):
            if updates:
                await self._db[collection].bulk_write(updates, ordered=False)
        if inc.facts:
            await self._db[FACTS].bulk_write(
                [UpdateOne({"_id": order}, {"$set": fact}, upsert=True) for order, fact in inc.facts.items()],
                ordered=False,
            )
        if inc.counters:
            now = utc_now()
            await self._db[DIRTY].bulk_write(
                [UpdateOne({"_id": m}, {"$set": {"dirty_at": now}}, upsert=True) for m in inc.counters], ordered=False
            )

    async def changed_merchants(self) -> list[tuple[str, Any]]:
        return [(mark["_id"], mark["dirty_at"]) async for mark in self._db[DIRTY].find({})]

    async def derive(self, merchant_id: str, marked_at: Any) -> MerchantAnalytics:
        """Rewrite the merchant's read model from its counters; clear its mark if unchanged since."""
        counters = await self._db[COUNTERS].find_one({"_id": merchant_id}) or {}
        customers = self._db[CUSTOMERS]
        known = await customers.count_documents({"merchant_id": merchant_id, "orders": {"$gt": 0}})
        repeat = await customers.count_documents({"merchant_id": merchant_id, "orders": {"$gt": 1}})
        analytics = read_model(merchant_id, counters, known, repeat, utc_now())
        await self._db[MERCHANT_ANALYTICS].replace_one({"_id": merchant_id}, analytics.document(), upsert=True)
        await self._db[DIRTY].delete_one({"_id": merchant_id, "dirty_at": marked_at})
        return analytics


def _guarded(doc_id: str, before: Offsets, after: Offsets, update: dict[str, Any]) -> UpdateOne:
    """The update, applied only if the touched offsets are still as read."""
    query: dict[str, Any] = {"_id": doc_id}
    for slot in after:
        query[f"offsets.{slot}"] = before[slot] if slot in before else {"$exists": False}
    sets = {**update.get("$set", {}), **{f"offsets.{slot}": offset for slot, offset in after.items()}}
    return UpdateOne(query, {**update, "$set": sets}, upsert=True)
