"""SKU uniqueness per merchant, without transactions.

A product's SKU is claimed by inserting ``{_id: "<merchant>:<sku>"}`` *before* its
``ProductCreated`` commit. The unique ``_id`` lets exactly one product hold a SKU. A claim
whose product never got committed (the process died between the two steps) is taken
over by the next product that wants the SKU once ``stale_after`` has passed.
"""

from __future__ import annotations

from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import utc_now

from command_api.adapters.event_store import COMMITS
from command_api.domain.aggregate import DomainError

SKUS = "product_skus"


class SkuTaken(DomainError):
    code = "sku_taken"


class SkuRegistry:
    def __init__(self, db: AsyncDatabase, stale_after: float = 60.0) -> None:
        self._skus, self._commits = db[SKUS], db[COMMITS]
        self._stale_after = stale_after

    async def claim(self, merchant_id: str, sku: str, product_id: str) -> None:
        claim_id = f"{merchant_id}:{sku}"
        try:
            await self._skus.insert_one({"_id": claim_id, "product_id": product_id, "claimed_at": utc_now()})
            return
        except DuplicateKeyError:
            pass
        doc = await self._skus.find_one({"_id": claim_id})
        if doc is None:  # released meanwhile
            return await self.claim(merchant_id, sku, product_id)
        if doc["product_id"] == product_id:
            return  # our own claim: a retry of the same command
        if await self._is_orphan(doc):
            taken = await self._skus.update_one(
                {"_id": claim_id, "product_id": doc["product_id"]},
                {"$set": {"product_id": product_id, "claimed_at": utc_now()}},
            )
            if taken.modified_count == 1:
                return
        raise SkuTaken(f"SKU '{sku}' is already used by another product.", sku=sku)

    async def release(self, merchant_id: str, sku: str, product_id: str) -> None:
        await self._skus.delete_one({"_id": f"{merchant_id}:{sku}", "product_id": product_id})

    async def _is_orphan(self, doc: dict) -> bool:
        if doc["claimed_at"] > utc_now() - timedelta(seconds=self._stale_after):
            return False
        return await self._commits.find_one({"aggregate_id": doc["product_id"]}, {"_id": 1}) is None
