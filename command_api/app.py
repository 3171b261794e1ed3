"""The command API, assembled by ``create_app(settings)`` (bootstrap: the one place
where dependencies are built and injected)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request

from shared import kafka, mongo
from shared.http.auth import KeyResolver
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.observability.http import instrument_http
from shared.settings import CommandApiSettings

from command_api.endpoints import products, reports
from command_api.event_store import EventStore
from command_api.handlers import Services
from command_api.idempotency import IdempotencyStore
from command_api.merchants import create_indexes as create_merchant_indexes
from command_api.publisher import CommitPublisher
from command_api.repository import Repository
from command_api.sku_registry import SkuRegistry


def create_app(settings: CommandApiSettings | None = None) -> Starlette:
    settings = settings or CommandApiSettings()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict]:
        client = mongo.open_mongo(settings)
        db = mongo.database(client, settings)
        store = EventStore(db)
        await store.create_indexes()
        await create_merchant_indexes(db)
        publisher = CommitPublisher(settings, store, relay_interval=settings.relay_interval_seconds,
                                    relay_grace=settings.relay_grace_seconds)
        await publisher.start()
        try:
            yield {
                "settings": settings,
                "mongo": client,
                "keys": KeyResolver(db),
                "idempotency": IdempotencyStore(db),
                "publisher": publisher,
                "services": Services(repository=Repository(store, publisher), skus=SkuRegistry(db)),
            }
        finally:
            await publisher.stop()
            await client.close()

    async def mongo_ready(request: Request) -> bool:
        return await mongo.ping(request.state.mongo)

    async def kafka_ready(request: Request) -> bool:
        return await kafka.ping(settings)

    routes = [
        *health_routes({"mongodb": mongo_ready, "kafka": kafka_ready}),
        *products.routes,
        *reports.routes,
    ]
    return instrument_http(Starlette(routes=routes, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan),
                           "command-api")
