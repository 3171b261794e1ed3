"""The merchant registry: merchants and their API keys (stored hashed).

``create_merchant`` returns the plain keys exactly once; only their SHA-256 hashes are
kept. Keys are looked up by hash (the ``_id`` of ``api_keys``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import utc_now
from shared.mongo import ensure_indexes
from shared.http.auth import API_KEYS, KeyKind, hash_key, new_key

MERCHANTS = "merchants"


@dataclass(frozen=True)
class NewMerchant:
    merchant_id: str
    name: str
    secret_key: str
    publishable_key: str


async def create_indexes(db: AsyncDatabase) -> None:
    await ensure_indexes(db[API_KEYS], [IndexModel([("merchant_id", ASCENDING), ("kind", ASCENDING)],
                                                   name="keys_by_merchant")])


async def create_merchant(db: AsyncDatabase, name: str) -> NewMerchant:
    merchant_id = str(uuid.uuid4())
    now = utc_now()
    keys: dict[KeyKind, str] = {"secret": new_key("secret"), "publishable": new_key("publishable")}
    await db[MERCHANTS].insert_one({"_id": merchant_id, "name": name, "created_at": now})
    await db[API_KEYS].insert_many([
        {"_id": hash_key(key), "merchant_id": merchant_id, "kind": kind,
         "prefix": key[:7], "created_at": now, "revoked_at": None}
        for kind, key in keys.items()
    ])
    return NewMerchant(merchant_id, name, keys["secret"], keys["publishable"])
