"""Merchants: an event-sourced aggregate (``merchants.events``) plus their API keys.

The aggregate records what happened (created, renamed, keys rotated); the key *hashes*
live in ``api_keys`` because every request looks one up by hash (its ``_id``). Plain
keys are returned exactly once and never stored or put in an event.

Order of writes, and what a crash between them leaves: the event is appended first,
then the keys are written. A crash in between leaves a merchant without usable keys
(create) or with its old keys still valid (rotate); running the command again fixes it.

``create_merchant`` and ``rotate_keys`` take a database handle and build their own event
store and repository (the CLI, the seeder and the test kit call them so), and the module
owns ``api_keys``: it is bound to MongoDB, so it sits with the adapters.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from shared.events import utc_now
from shared.http.auth import API_KEYS, KeyKind, hash_key, new_key
from shared.mongo import ensure_indexes

from command_api.adapters.event_store import EventStore
from command_api.adapters.publisher import CommitPublisher
from command_api.application.repository import CommandContext, Repository
from command_api.domain.aggregate import NotFound
from command_api.domain.merchant import Merchant


@dataclass(frozen=True)
class NewMerchant:
    merchant_id: str
    name: str
    secret_key: str
    publishable_key: str


async def create_indexes(db: AsyncDatabase) -> None:
    await ensure_indexes(
        db[API_KEYS], [IndexModel([("merchant_id", ASCENDING), ("kind", ASCENDING)], name="keys_by_merchant")]
    )
    await EventStore(db).create_indexes()


def _repository(db: AsyncDatabase, publisher: CommitPublisher | None) -> Repository:
    return Repository(EventStore(db), publisher)


def _context(merchant_id: str) -> CommandContext:
    return CommandContext(merchant_id, command_id=uuid.uuid4().hex, correlation_id=str(uuid.uuid4()))


async def create_merchant(db: AsyncDatabase, name: str, publisher: CommitPublisher | None = None) -> NewMerchant:
    merchant_id = str(uuid.uuid4())
    merchant = Merchant(merchant_id, merchant_id)  # a merchant's events belong to itself
    merchant.create(name)
    await _repository(db, publisher).save(merchant, _context(merchant.id))
    keys = await issue_keys(db, merchant.id, ["secret", "publishable"])
    return NewMerchant(merchant.id, name, keys["secret"], keys["publishable"])


async def rotate_keys(
    db: AsyncDatabase, merchant_id: str, kinds: list[KeyKind], publisher: CommitPublisher | None = None
) -> dict[KeyKind, str]:
    """New keys of the given kinds; the old ones are revoked (running API processes may
    accept them from their auth cache for up to its TTL)."""
    repo = _repository(db, publisher)
    merchant = await repo.load(Merchant, merchant_id, merchant_id)
    if merchant is None:
        raise NotFound(f"No merchant {merchant_id}.")
    merchant.rotate_keys(list(kinds))
    await repo.save(merchant, _context(merchant_id))
    keys = await issue_keys(db, merchant_id, kinds)
    await db[API_KEYS].update_many(
        {
            "merchant_id": merchant_id,
            "kind": {"$in": list(kinds)},
            "revoked_at": None,
            "_id": {"$nin": [hash_key(k) for k in keys.values()]},
        },
        {"$set": {"revoked_at": utc_now()}},
    )
    return keys


async def merchant_exists(db: AsyncDatabase, merchant_id: str) -> bool:
    return await db[API_KEYS].find_one({"merchant_id": merchant_id, "revoked_at": None}) is not None


async def issue_keys(db: AsyncDatabase, merchant_id: str, kinds: list[KeyKind]) -> dict[KeyKind, str]:
    now = utc_now()
    keys: dict[KeyKind, str] = {kind: new_key(kind) for kind in kinds}
    await db[API_KEYS].insert_many(
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
    return keys
