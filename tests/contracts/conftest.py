"""One contract suite per port, run against every adapter: the in-memory twin and the
MongoDB adapter on the real MongoDB-compatible server (``integration``: under CI a
missing server fails, it never skips). Each test gets an empty database of its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from shared.http.auth import KeyResolver, PrincipalResolver

from command_api.adapters.api_keys import ApiKeys
from command_api.adapters.event_store import EventStore
from command_api.adapters.memory.api_keys import InMemoryApiKeys
from command_api.adapters.memory.event_store import InMemoryEventStore
from command_api.adapters.memory.sku_registry import InMemorySkuRegistry
from command_api.adapters.sku_registry import SkuRegistry


@dataclass
class Backend:
    name: str
    store: Any  # EventStorePort and OutboxPort
    skus: Any  # SkuRegistryPort, orphans taken over at once
    api_keys: Any  # ApiKeysPort
    resolver: PrincipalResolver


ADAPTERS = [pytest.param("memory", id="memory"), pytest.param("mongodb", id="mongodb", marks=pytest.mark.integration)]


@pytest.fixture(params=ADAPTERS)
def server_db(request) -> Any:
    """The session's MongoDB database for the ``mongodb`` adapter, ``None`` in memory."""
    return request.getfixturevalue("mongo_db") if request.param == "mongodb" else None


@pytest.fixture
async def backend(server_db) -> AsyncIterator[Backend]:
    if server_db is None:
        store, keys = InMemoryEventStore(), InMemoryApiKeys()
        yield Backend("memory", store, InMemorySkuRegistry(store, stale_after=0), keys, keys)
        return
    client = server_db.client
    db = client[f"{server_db.name}_c{uuid.uuid4().hex[:8]}"]
    store, api_keys = EventStore(db), ApiKeys(db)
    await store.create_indexes()
    await api_keys.create_indexes()
    try:
        yield Backend("mongodb", store, SkuRegistry(db, stale_after=0), api_keys, KeyResolver(db, ttl=0.001))
    finally:
        await client.drop_database(db.name)
