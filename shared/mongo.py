"""MongoDB client factory (pymongo's async API). Opened in lifespans, never at import."""

from __future__ import annotations

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from shared.settings import ServerSettings


def open_mongo(settings: ServerSettings, **options) -> AsyncMongoClient:
    """Production options (pool 10-100, compression) come from MERCHANT_ENV; every client
    reports pool use and command latency to /metrics through pymongo's listeners."""
    from shared.observability import mongo_monitoring, production

    options = {**production.mongo_options(), **options}
    options.setdefault("event_listeners", mongo_monitoring.listeners())
    options.setdefault("serverSelectionTimeoutMS", 5000)
    options.setdefault("tz_aware", True)
    options.setdefault("appname", "merchant-backend")
    return AsyncMongoClient(settings.mongodb_url, **options)


def database(client: AsyncMongoClient, settings: ServerSettings) -> AsyncDatabase:
    return client[settings.mongodb_database]


async def ping(client: AsyncMongoClient) -> bool:
    try:
        await client.admin.command("ping")
        return True
    except Exception:
        return False


async def ensure_indexes(collection: AsyncCollection, indexes: list[IndexModel]) -> None:
    """Create indexes idempotently, one ``createIndexes`` call each.

    FerretDB v1.24 panics (and drops the connection) on a ``createIndexes`` naming several
    indexes when some already exist; one at a time works on it and on MongoDB alike.
    """
    for index in indexes:
        await collection.create_indexes([index])
