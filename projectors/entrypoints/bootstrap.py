"""The projector side's one composition root: what a projector process is made of.

``bootstrap(settings)`` opens the clients and picks the server's newer-version writer
(``projectors.adapters.bulk.detect_writer``), and returns them as one frozen
``ProjectorSide``. The FastStream app, ``merchant projections rebuild`` and the tests all
build the projector side this way; ``close`` releases what ``bootstrap`` opened. Nothing
is opened at import.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from redis.asyncio import Redis

from shared import mongo
from shared.kafka import reliable_producer
from shared.redis import open_redis
from shared.settings import ProjectorSettings

from projectors.adapters.bulk import detect_writer
from projectors.adapters.mongo_store import MongoReadModels, StoredEvents
from projectors.application.ports import Doc


@dataclass(frozen=True)
class ProjectorSide:
    settings: ProjectorSettings
    client: AsyncMongoClient[Doc]
    db: AsyncDatabase[Doc]
    store: MongoReadModels  # ports.ReadModelStore, with this server's writer
    history: StoredEvents  # ports.EventHistory
    redis: Redis | None = None  # cache invalidation (the app)
    producer: AIOKafkaProducer | None = None  # dead letters (the app)


async def bootstrap(settings: ProjectorSettings, *, redis: bool = False, producer: bool = False) -> ProjectorSide:
    """Open the projector side; ``redis``/``producer`` for the running app, which signals
    cache invalidation and produces dead letters."""
    client: AsyncMongoClient[Doc] = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    started: AIOKafkaProducer | None = None
    try:
        store = MongoReadModels(db, await detect_writer(db), write_concurrency=settings.write_concurrency)
        if producer:
            started = reliable_producer(settings)
            await started.start()
    except BaseException:
        await client.close()
        raise
    return ProjectorSide(
        settings, client, db, store, StoredEvents(db), open_redis(settings) if redis else None, started
    )


async def close(side: ProjectorSide) -> None:
    if side.producer is not None:
        await side.producer.stop()
    if side.redis is not None:
        await side.redis.aclose()
    await side.client.close()
