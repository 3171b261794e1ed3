"""The query API, assembled by ``create_app(settings)``.

Middleware, outermost first: security headers → CORS → request limits → rate limit → L1
cache hits (answered there) → load shedding → compression (br/zstd/gzip) → ETag → routes.
All pure ASGI. The lifespan opens MongoDB and Redis, builds the cache, starts the
invalidation subscriber and the hot-key recorder, and warms L1 up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared import mongo
from shared import redis as redis_factory
from shared.http.auth import KeyResolver
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.http.load_shedding import LoadSheddingMiddleware
from shared.observability.http import instrument_http
from shared.settings import QueryApiSettings

from query_api.adapters.cache import subscriber, warm_up
from query_api.adapters.cache.epochs import Epochs
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.l2 import L2Cache
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.cache.two_level import TwoLevelCache
from query_api.adapters.indexes import ensure_query_indexes
from query_api.application.pagination import CursorCodec
from query_api.entrypoints import openapi
from query_api.entrypoints.endpoints import analytics, audit, merchant, products, reports
from query_api.entrypoints.http.cache_hits import CacheHitMiddleware
from query_api.entrypoints.http.compression import CompressionMiddleware
from query_api.entrypoints.http.cors import CorsMiddleware
from query_api.entrypoints.http.etag import ETagMiddleware
from query_api.entrypoints.http.limits import RequestLimitsMiddleware
from query_api.entrypoints.http.rate_limit import RateLimitMiddleware
from query_api.entrypoints.http.security_headers import SecurityHeadersMiddleware


def cache_prefix(settings: QueryApiSettings) -> str:
    """Namespace of the Redis keys and channel: the environment's prefix, as the projectors use."""
    return settings.kafka_topic_prefix


def create_app(settings: QueryApiSettings | None = None) -> Starlette:
    settings = settings or QueryApiSettings()
    prefix = cache_prefix(settings)
    openapi_body = orjson.dumps(openapi.build([*products.docs, *merchant.docs]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        client = mongo.open_mongo(settings)
        db = mongo.database(client, settings)
        redis = redis_factory.open_redis(settings)
        # Pub/sub blocks on reads: its own connection, no read timeout, pings to detect loss.
        pubsub_redis = redis_factory.open_redis(settings, socket_timeout=None, health_check_interval=10)
        epochs, stats = Epochs(), CacheStats()
        l1 = L1Cache(epochs, settings.l1_max_entries, settings.l1_ttl_unsubscribed_seconds)
        l2 = L2Cache(
            redis,
            stats,
            prefix=prefix,
            compress_min_bytes=settings.l2_compress_min_bytes,
            retry_after=settings.l2_retry_after_seconds,
        )
        cache = TwoLevelCache(l1, l2, epochs, stats)
        subscribed = asyncio.Event()

        async def fetch_docs(collection: str, ids: list[str]) -> list[dict]:
            """Changed documents read back by ``_id`` (what FerretDB too answers from its key)."""
            if len(ids) == 1:
                doc = await db[collection].find_one({"_id": ids[0]})
                return [doc] if doc else []
            return await db[collection].find({"_id": {"$in": ids}}).to_list()

        tasks = [
            asyncio.create_task(
                subscriber.listen(
                    pubsub_redis, epochs, l1, prefix, subscribed=subscribed, fetch=fetch_docs, stats=stats
                )
            ),
            asyncio.create_task(warm_up.flush_forever(cache.hot, redis, prefix)),
        ]
        state = {
            "settings": settings,
            "mongo": client,
            "db": db,
            "redis": redis,
            "cache": cache,
            "keys": KeyResolver(db),
            "codec": CursorCodec(settings.cursor_secret),
            "subscribed": subscribed,
        }
        try:
            with contextlib.suppress(Exception):
                await ensure_query_indexes(db)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(subscribed.wait(), 2.0)  # listen before serving
            if settings.warm_up_queries:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(warm_up.warm_up(app, state, redis, prefix, settings.warm_up_queries), 10.0)
            yield state
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await warm_up.flush(cache.hot, redis, prefix)
            await pubsub_redis.aclose()
            await redis.aclose()
            await client.close()

    async def mongo_ready(request: Request) -> bool:
        return await mongo.ping(request.state.mongo)

    async def redis_ready(request: Request) -> bool:
        return await redis_factory.ping(request.state.redis)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})

    async def cache_stats(request: Request) -> Response:
        cache: TwoLevelCache = request.state.cache
        body = {
            **cache.stats.snapshot(),
            "l1_entries": len(cache.l1),
            "l2_available": cache.l2.available,
            "invalidations_subscribed": request.state.subscribed.is_set(),
        }
        return Response(orjson.dumps(body), media_type="application/json", headers={"Cache-Control": "no-store"})

    routes = [  # the storefront's routes first: Starlette matches in order
        *products.routes,
        *merchant.routes,
        *reports.routes,
        *audit.routes,
        *analytics.routes,
        *health_routes({"mongodb": mongo_ready}, optional={"redis": redis_ready}),
        Route("/health/cache", cache_stats, methods=["GET"]),
        Route("/openapi.json", openapi_json, methods=["GET"]),
    ]
    origins = [o.strip() for o in settings.cors_allow_origins.split(",") if o.strip()]
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        *([Middleware(CorsMiddleware, allow_origins=origins)] if origins else []),
        Middleware(
            RequestLimitsMiddleware, max_url_bytes=settings.max_url_bytes, max_body_bytes=settings.max_request_bytes
        ),
        Middleware(RateLimitMiddleware, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst),
        Middleware(CacheHitMiddleware),
        # After the L1 hits: a cached answer costs microseconds and is never shed.
        Middleware(LoadSheddingMiddleware, limit=settings.max_concurrent_requests),
        Middleware(CompressionMiddleware),
        Middleware(ETagMiddleware),
    ]
    return instrument_http(
        Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan),
        "query-api",
    )
