"""SKU uniqueness per merchant, without transactions, claims group-committed.

A product's SKU is claimed by inserting ``{_id: "<merchant>:<sku>"}`` *before* its
``ProductCreated`` commit — alongside the commit's outbox entry (the event store's
``append(..., requires=claim)`` inserts the commit only if the claim succeeded). The
unique ``_id`` lets exactly one product hold a SKU. Claims that arrive while one is in
flight are inserted together (one unordered ``insert_many``, ``GroupCommit``; a lone
claim is one ``insert_one``). A refused claim costs one read of that claim: our own (a
retry of the same command), an orphan, or another product's. A claim whose product never
got committed (the process died between the two steps) is taken over by the next
product that wants the SKU once ``stale_after`` has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, WriteError

from shared.events import utc_now

from command_api.adapters.event_store import COMMITS, DUPLICATE_KEY, insert_each
from command_api.adapters.group_commit import GroupCommit
from command_api.application.ports import Document
from command_api.domain.product import SkuTaken

SKUS = "product_skus"


class SkuRegistry:
    def __init__(self, db: AsyncDatabase[Document], stale_after: float = 60.0) -> None:
        self._skus, self._commits = db[SKUS], db[COMMITS]
        self._stale_after = stale_after
        self.group_commit: GroupCommit[Document] = GroupCommit(self._insert, name="sku-claims")

    async def claim(self, merchant_id: str, sku: str, product_id: str) -> None:
        claim = {"_id": f"{merchant_id}:{sku}", "product_id": product_id, "claimed_at": utc_now()}
        try:
            await self.group_commit.submit(claim)
        except DuplicateKeyError:
            await self._contest(claim, sku)

    async def _insert(self, claims: Sequence[Document]) -> list[Exception | None]:
        refused = await insert_each(self._skus, list(claims))
        results: list[Exception | None] = []
        for index in range(len(claims)):
            error = refused.get(index)
            if error is None:
                results.append(None)
            elif error.get("code") == DUPLICATE_KEY:
                results.append(DuplicateKeyError(error.get("errmsg", "duplicate"), DUPLICATE_KEY, error))
            else:
                results.append(WriteError(error.get("errmsg", "write refused"), error.get("code"), error))
        return results

    async def _contest(self, claim: Document, sku: str) -> None:
        doc = await self._skus.find_one({"_id": claim["_id"]})
        if doc is None:  # cannot happen: claims are never deleted
            raise RuntimeError(f"SKU claim {claim['_id']} refused as a duplicate, then not found")
        if doc["product_id"] == claim["product_id"]:
            return  # our own claim: a retry of the same command
        if await self._is_orphan(doc):
            taken = await self._skus.update_one(
                {"_id": claim["_id"], "product_id": doc["product_id"]},
                {"$set": {"product_id": claim["product_id"], "claimed_at": utc_now()}},
            )
            if taken.modified_count == 1:
                return
        raise SkuTaken(f"SKU '{sku}' is already used by another product.", sku=sku)

    async def _is_orphan(self, doc: Document) -> bool:
        if doc["claimed_at"] > utc_now() - timedelta(seconds=self._stale_after):
            return False
        return await self._commits.find_one({"aggregate_id": doc["product_id"]}, {"_id": 1}) is None
