"""Stock reservations for order placement, without multi-document transactions.

Placing an order writes several aggregates (each product's ``StockReserved``, then the
order's ``OrderPlaced``). A *reservation record* per order (``_id`` = order id) makes
that sequence recoverable: it is written before the first product is touched and moves
through states with conditional updates, so exactly one actor owns each step.

    reserving ──(all lines held)──▶ placing ──(OrderPlaced appended)──▶ placed
        │ (stock short, unknown product, expired)                          │ (cancel)
        ▼                                                                  ▼
    releasing ───────────────(every line given back)──────────────▶ released

The reconciler (``Reconciler.run_once``) finishes what a crashed process left:
``reserving`` past its TTL rolls *back* (stock released, ``reservation_expired``);
``placing`` rolls *forward* (the stored ``OrderPlaced`` is appended with the original
command id, so it cannot be appended twice); ``releasing`` is finished. See
docs/reservations.md.
"""

from __future__ import annotations

from datetime import timedelta

from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import utc_now
from shared.mongo import ensure_indexes

RESERVATIONS = "order_reservations"

INDEXES = [IndexModel([("state", ASCENDING), ("updated_at", ASCENDING)], name="by_state_and_age")]


class ReservationStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self._docs = db[RESERVATIONS]

    async def create_indexes(self) -> None:
        await ensure_indexes(self._docs, INDEXES)

    async def begin(
        self, order_id: str, merchant_id: str, command_id: str, correlation_id: str, lines: list[dict]
    ) -> tuple[dict, bool]:
        """The order's record and whether this call created it (else an earlier attempt did)."""
        now = utc_now()
        doc = {
            "_id": order_id,
            "merchant_id": merchant_id,
            "command_id": command_id,
            "correlation_id": correlation_id,
            "lines": lines,
            "state": "reserving",
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self._docs.insert_one(doc)
            return doc, True
        except DuplicateKeyError:
            earlier = await self._docs.find_one({"_id": order_id})
            if earlier is None:  # cannot happen: records are never deleted
                raise
            return earlier, False

    async def get(self, order_id: str) -> dict | None:
        return await self._docs.find_one({"_id": order_id})

    async def move(self, order_id: str, from_state: str | tuple[str, ...], to_state: str, **fields) -> dict | None:
        """Conditional state change: ``None`` if someone else moved it first."""
        states = (from_state,) if isinstance(from_state, str) else from_state
        return await self._docs.find_one_and_update(
            {"_id": order_id, "state": {"$in": list(states)}},
            {"$set": {"state": to_state, "updated_at": utc_now(), **fields}},
            return_document=ReturnDocument.AFTER,
        )

    async def stale(self, state: str, older_than: timedelta, limit: int = 100) -> list[dict]:
        cursor = (
            self._docs.find({"state": state, "updated_at": {"$lt": utc_now() - older_than}})
            .sort("updated_at", ASCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]
