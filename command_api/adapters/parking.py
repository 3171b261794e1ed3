"""Parked aggregates (``ParkingPort``) in MongoDB: one document per aggregate whose
publication stopped at a commit Kafka refuses (``parked_aggregates``, ``_id`` = aggregate
id). Few documents, read whole at each relay pass that has work; ``merchant parked``
lists and retries them. Parking twice keeps the first record (the commit it stopped at).
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo.asynchronous.database import AsyncDatabase

from command_api.application.ports import Document, Parked

PARKED = "parked_aggregates"


class Parking:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._parked = db[PARKED]

    async def park(self, parked: Parked) -> None:
        doc = {
            "merchant_id": parked.merchant_id,
            "commit_id": parked.commit_id,
            "version": parked.version,
            "reason": parked.reason,
            "parked_at": parked.parked_at,
        }
        await self._parked.update_one({"_id": parked.aggregate_id}, {"$setOnInsert": doc}, upsert=True)

    async def parked(self) -> list[Parked]:
        return [
            Parked(
                aggregate_id=doc["_id"],
                merchant_id=doc["merchant_id"],
                commit_id=doc["commit_id"],
                version=doc["version"],
                reason=doc["reason"],
                parked_at=doc["parked_at"],
            )
            async for doc in self._parked.find({})
        ]

    async def unpark(self, aggregate_ids: Sequence[str]) -> int:
        result = await self._parked.delete_many({"_id": {"$in": list(aggregate_ids)}})
        return result.deleted_count
