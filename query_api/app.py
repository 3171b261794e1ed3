"""The query API, assembled by ``create_app(settings)``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request

from shared import mongo
from shared import redis as redis_factory
from shared.http.auth import KeyResolver
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.observability.http import instrument_http
from shared.settings import QueryApiSettings

from query_api.endpoints import analytics, audit, products, reports


def create_app(settings: QueryApiSettings | None = None) -> Starlette:
    settings = settings or QueryApiSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        client = mongo.open_mongo(settings)
        redis = redis_factory.open_redis(settings)
        try:
            db = mongo.database(client, settings)
            yield {"settings": settings, "mongo": client, "db": db, "redis": redis,
                   "keys": KeyResolver(db)}
        finally:
            await redis.aclose()
            await client.close()

    async def mongo_ready(request: Request) -> bool:
        return await mongo.ping(request.state.mongo)

    async def redis_ready(request: Request) -> bool:
        return await redis_factory.ping(request.state.redis)

    routes = [
        *health_routes({"mongodb": mongo_ready}, optional={"redis": redis_ready}),
        *products.routes,
        *reports.routes,
        *audit.routes,
        *analytics.routes,
    ]
    return instrument_http(Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan),
                           "query-api")
