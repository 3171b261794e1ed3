"""Writing a batch of projected updates: one unordered bulk write per collection."""

from __future__ import annotations

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000


async def apply_updates(collection: AsyncCollection, updates: list[UpdateOne]) -> int:
    """Apply updates; duplicate-key failures are version-guarded no-ops (already applied).

    Returns how many were no-ops. Any other failure raises, so the batch is not
    acknowledged and Kafka redelivers it.
    """
    if not updates:
        return 0
    try:
        await collection.bulk_write(updates, ordered=False)
        return 0
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return len(errors)
