"""Merchants' API keys on MongoDB (``api_keys``): hashes only, looked up by ``_id``.

Every request of either API resolves its key by hash (``shared.http.auth.KeyResolver``),
so the hash is the ``_id``. Plain keys are returned once by ``issue`` and never stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import utc_now
from shared.http.auth import API_KEYS, KeyKind, hash_key, new_key
from shared.mongo import ensure_indexes

from command_api.application.ports import Document

INDEXES = [IndexModel([("merchant_id", ASCENDING), ("kind", ASCENDING)], name="keys_by_merchant")]


class ApiKeys:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._keys = db[API_KEYS]

    async def create_indexes(self) -> None:
        await ensure_indexes(self._keys, INDEXES)

    async def issue(self, merchant_id: str, kinds: Sequence[KeyKind]) -> dict[str, str]:
        now = utc_now()
        keys: dict[KeyKind, str] = {kind: new_key(kind) for kind in kinds}
        await self._keys.insert_many(
            [
                {
                    "_id": hash_key(key),
                    "merchant_id": merchant_id,
                    "kind": kind,
                    "prefix": key[:7],
                    "created_at": now,
                    "revoked_at": None,
                }
                for kind, key in keys.items()
            ]
        )
        return {kind: key for kind, key in keys.items()}

    async def revoke_all_but(self, merchant_id: str, kinds: Sequence[str], keep: Sequence[str]) -> None:
        await self._keys.update_many(
            {
                "merchant_id": merchant_id,
                "kind": {"$in": list(kinds)},
                "revoked_at": None,
                "_id": {"$nin": [hash_key(k) for k in keep]},
            },
            {"$set": {"revoked_at": utc_now()}},
        )

    async def has_keys(self, merchant_id: str) -> bool:
        return await self._keys.find_one({"merchant_id": merchant_id, "revoked_at": None}, {"_id": 1}) is not None
