"""Idempotency keys: a retried request gets the original answer, and acts once.

A record per ``(merchant, Idempotency-Key)`` holds a hash of the request and, once the
command finished, its response. Concurrent duplicates: exactly one inserts the record and
runs the command; the others wait for its response and return the same one. The same key
with another body is refused (422). If the process running the command dies, its record
stays ``pending``; after ``lease_seconds`` another attempt takes it over — and it cannot
act twice, because the commit's ``command_id`` (derived from the key) is unique in the
event store, so the takeover finds the earlier commit instead of writing a new one.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import timedelta

import orjson
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from shared.events import utc_now
from shared.http.errors import ApiError

IDEMPOTENCY = "idempotency_keys"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: dict


def command_id_for(merchant_id: str, key: str) -> str:
    return hashlib.sha256(f"{merchant_id}\x00{key}".encode()).hexdigest()


def request_fingerprint(method: str, path: str, body: object) -> str:
    return hashlib.sha256(orjson.dumps([method, path, body], option=orjson.OPT_SORT_KEYS)).hexdigest()


class IdempotencyStore:
    def __init__(self, db: AsyncDatabase, *, lease_seconds: float = 30.0, wait_seconds: float = 10.0) -> None:
        self._records = db[IDEMPOTENCY]
        self._lease, self._wait = lease_seconds, wait_seconds

    async def begin(self, record_id: str, fingerprint: str) -> StoredResponse | None:
        """Claim the key. ``None``: run the command now. Otherwise: the earlier answer."""
        now = utc_now()
        try:
            await self._records.insert_one(
                {"_id": record_id, "fingerprint": fingerprint, "state": "pending", "started_at": now}
            )
            return None
        except DuplicateKeyError:
            pass
        deadline = asyncio.get_running_loop().time() + self._wait
        while True:
            doc = await self._records.find_one({"_id": record_id})
            if doc is None:  # the earlier attempt failed and released the key
                return await self.begin(record_id, fingerprint)
            if doc["fingerprint"] != fingerprint:
                raise ApiError(422, "idempotency_key_reused", "This Idempotency-Key was used with a different request.")
            if doc["state"] == "done":
                return StoredResponse(doc["status"], doc["body"])
            if await self._take_over_if_expired(record_id, doc):
                return None
            if asyncio.get_running_loop().time() > deadline:
                raise ApiError(
                    409,
                    "request_in_progress",
                    "A request with this Idempotency-Key is still being processed; retry.",
                    headers={"Retry-After": "1"},
                )
            await asyncio.sleep(0.05)

    async def complete(self, record_id: str, response: StoredResponse) -> None:
        await self._records.update_one(
            {"_id": record_id},
            {"$set": {"state": "done", "status": response.status, "body": response.body, "finished_at": utc_now()}},
        )

    async def release(self, record_id: str) -> None:
        """Forget a key whose command failed for a transient reason, so a retry can run."""
        await self._records.delete_one({"_id": record_id, "state": "pending"})

    async def _take_over_if_expired(self, record_id: str, doc: dict) -> bool:
        if doc["started_at"] > utc_now() - timedelta(seconds=self._lease):
            return False
        taken = await self._records.find_one_and_update(
            {"_id": record_id, "state": "pending", "started_at": doc["started_at"]},
            {"$set": {"started_at": utc_now()}},
            return_document=ReturnDocument.AFTER,
        )
        return taken is not None
