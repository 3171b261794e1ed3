"""The query side's one composition root: ``bootstrap(settings) -> QuerySide``.

Everything a query API process is made of is built here, once, and nowhere else: the
MongoDB and Redis clients, the two-level cache, the key resolver, the cursor codec. The
app's lifespan, the tests and the benchmark harness all call it, so they run the same
parts wired the same way.

``bootstrap`` does no I/O (the clients connect on first use) but must run inside the event
loop that will use the clients, i.e. in a lifespan or a test, never at import.
``running(side)`` is what a serving process adds: the invalidation subscriber and the
hot-key recorder as background tasks, the indexes, and a clean shutdown (tasks cancelled,
hot keys flushed, clients closed). Failure modes: MongoDB unreachable at start leaves the
indexes to the projectors (they create the same list) and ``/health/ready`` says so;
MongoDB stopped or hung while serving: its operations give up after
``store_timeout_seconds`` and the request is a 503 (cached answers keep being served);
Redis unreachable means L2 is skipped and L1 keeps entries briefly (see ``subscriber``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.asynchronous.mongo_client import AsyncMongoClient
from redis.asyncio import Redis
from starlette.requests import HTTPConnection
from starlette.types import Scope

from shared import mongo
from shared import redis as redis_factory
from shared.http.auth import KeyResolver
from shared.settings import QueryApiSettings

from query_api.adapters.cache import subscriber, warm_up
from query_api.adapters.cache.epochs import Epochs
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.l2 import L2Cache
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.cache.two_level import TwoLevelCache
from query_api.adapters.indexes import ensure_query_indexes
from query_api.application.pagination import CursorCodec

Document = dict[str, Any]
STATE_KEY = "query_side"  # the one entry of the lifespan state


@dataclass(frozen=True)
class QuerySide:
    """The parts of one query API process."""

    settings: QueryApiSettings
    mongo: AsyncMongoClient[Document]
    db: AsyncDatabase[Document]
    redis: Redis
    pubsub_redis: Redis  # pub/sub blocks on reads: a connection of its own, no read timeout
    cache: TwoLevelCache
    keys: KeyResolver
    codec: CursorCodec
    subscribed: asyncio.Event  # set while the invalidation subscriber listens

    @property
    def prefix(self) -> str:
        """Namespace of the Redis keys and channel: the environment's prefix, as the projectors use."""
        return self.settings.kafka_topic_prefix

    async def fetch_docs(self, collection: str, ids: list[str]) -> list[Document]:
        """Changed documents read back by ``_id`` (what FerretDB too answers from its key)."""
        if len(ids) == 1:
            doc = await self.db[collection].find_one({"_id": ids[0]})
            return [doc] if doc else []
        return await self.db[collection].find({"_id": {"$in": ids}}).to_list()


def build_cache(settings: QueryApiSettings, redis: Redis) -> TwoLevelCache:
    epochs, stats = Epochs(), CacheStats()
    l1 = L1Cache(
        epochs,
        settings.l1_max_entries,
        settings.l1_ttl_unsubscribed_seconds,
        stats,
        settings.max_stale_seconds,
        max_bytes=settings.l1_max_bytes,
    )
    l2 = L2Cache(
        redis,
        stats,
        prefix=settings.kafka_topic_prefix,
        compress_min_bytes=settings.l2_compress_min_bytes,
        retry_after=settings.l2_retry_after_seconds,
    )
    return TwoLevelCache(l1, l2, epochs, stats, settings.cache_ttl_jitter)


def bootstrap(settings: QueryApiSettings) -> QuerySide:
    client: AsyncMongoClient[Document] = mongo.open_mongo(settings, timeout=settings.store_timeout_seconds)
    db = mongo.database(client, settings)
    redis = redis_factory.open_redis(settings)
    return QuerySide(
        settings=settings,
        mongo=client,
        db=db,
        redis=redis,
        pubsub_redis=redis_factory.open_redis(settings, socket_timeout=None, health_check_interval=10),
        cache=build_cache(settings, redis),
        keys=KeyResolver(db),
        codec=CursorCodec(settings.cursor_secret),
        subscribed=asyncio.Event(),
    )


@contextlib.asynccontextmanager
async def running(side: QuerySide, listen_timeout: float = 2.0) -> AsyncIterator[QuerySide]:
    """The side serving: background tasks started, indexes ensured; everything closed after."""
    cache = side.cache
    tasks = [
        asyncio.create_task(
            subscriber.listen(
                side.pubsub_redis,
                cache.epochs,
                cache.l1,
                side.prefix,
                subscribed=side.subscribed,
                fetch=side.fetch_docs,
                stats=cache.stats,
            )
        ),
        asyncio.create_task(
            warm_up.flush_forever(cache.hot, side.redis, side.prefix, side.settings.hot_keys_flush_seconds)
        ),
    ]
    try:
        with contextlib.suppress(Exception):
            await ensure_query_indexes(side.db)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(side.subscribed.wait(), listen_timeout)  # listen before serving
        yield side
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await cache.stop()  # background reloads of stale-served keys
        with contextlib.suppress(Exception):
            await warm_up.flush(cache.hot, side.redis, side.prefix)
        await close(side)


async def close(side: QuerySide) -> None:
    await side.pubsub_redis.aclose()
    await side.redis.aclose()
    await side.mongo.close()


def lifespan_state(side: QuerySide) -> dict[str, QuerySide]:
    """What the lifespan yields: Starlette copies it into every request's ``state``."""
    return {STATE_KEY: side}


def side_of_scope(scope: Scope) -> QuerySide:
    side = scope["state"][STATE_KEY]
    if not isinstance(side, QuerySide):  # only a mis-wired app gets here
        raise TypeError(f"the lifespan state holds {type(side).__name__}, not QuerySide")
    return side


def side_of(connection: HTTPConnection) -> QuerySide:
    """The process's ``QuerySide``, typed: the only thing endpoints take from the request's state."""
    return side_of_scope(connection.scope)
