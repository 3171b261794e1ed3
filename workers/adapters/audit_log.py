"""The audit log on MongoDB, written per Kafka batch: one unordered ``insert_many``.

An entry's ``_id`` is its event id, so an event redelivered (a batch whose offsets were
not committed before a crash, a rebalance) is refused by the unique ``_id`` and recorded
once; every other entry of the batch is written regardless (unordered). Any error other
than a duplicate fails the batch, which Kafka then redelivers whole.
"""

from __future__ import annotations

from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.worker_read_models import AUDIT_LOG, AuditEntry

DUPLICATE_KEY = 11000


class AuditLog:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._entries = db[AUDIT_LOG]

    async def record(self, entries: list[AuditEntry]) -> int:
        """Write the entries not yet recorded; returns how many were new."""
        if not entries:
            return 0
        try:
            inserted = await self._entries.insert_many([e.document() for e in entries], ordered=False)
            return len(inserted.inserted_ids)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            return int(exc.details.get("nInserted", len(entries) - len(errors)))
