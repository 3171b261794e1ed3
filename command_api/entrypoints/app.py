"""The command API, assembled by ``create_app(settings)`` (bootstrap: the one place
where dependencies are built and injected)."""

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

from shared import kafka, mongo
from shared.http.auth import KeyResolver
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.http.load_shedding import LoadSheddingMiddleware
from shared.observability.http import instrument_http
from shared.settings import CommandApiSettings

from command_api.adapters.event_store import EventStore
from command_api.adapters.idempotency import IdempotencyStore
from command_api.adapters.merchants import create_indexes as create_merchant_indexes
from command_api.adapters.publisher import CommitPublisher
from command_api.adapters.reservations import ReservationStore
from command_api.adapters.sku_registry import SkuRegistry
from command_api.application.handlers import Services
from command_api.application.reconciler import Reconciler
from command_api.application.repository import Repository
from command_api.entrypoints.http.routes import starlette_routes
from command_api.entrypoints.openapi import openapi_document


@contextlib.asynccontextmanager
async def write_side(settings: CommandApiSettings) -> AsyncIterator[dict]:
    """The clients and background tasks of the write side: the API's lifespan, and the
    whole of ``merchant serve outbox-relay``."""
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    store = EventStore(db)
    await store.create_indexes()
    await create_merchant_indexes(db)
    reservations = ReservationStore(db)
    await reservations.create_indexes()
    publisher = CommitPublisher(
        settings,
        store,
        relay_interval=settings.relay_interval_seconds,
        relay_grace=settings.relay_grace_seconds,
        immediate=settings.immediate_publish,
    )
    repository = Repository(store, publisher)
    reconciler = Reconciler(
        repository, reservations, ttl=settings.reservation_ttl_seconds, grace=settings.reconcile_grace_seconds
    )
    await publisher.start()
    reconciling = asyncio.create_task(
        reconciler.run_forever(settings.reconcile_interval_seconds), name="reservation-reconciler"
    )
    try:
        yield {
            "settings": settings,
            "mongo": client,
            "keys": KeyResolver(db),
            "idempotency": IdempotencyStore(db),
            "publisher": publisher,
            "reconciler": reconciler,
            "services": Services(repository=repository, skus=SkuRegistry(db), reservations=reservations),
        }
    finally:
        reconciling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reconciling
        await publisher.stop()
        await client.close()


def create_app(settings: CommandApiSettings | None = None) -> Starlette:
    settings = settings or CommandApiSettings()
    openapi = orjson.dumps(openapi_document())

    async def mongo_ready(request: Request) -> bool:
        return await mongo.ping(request.state.mongo)

    async def kafka_ready(request: Request) -> bool:
        return await kafka.ping(settings)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    routes = [
        # Ready needs MongoDB only: with Kafka down, commands are still accepted durably
        # and published later, so the API stays in service (Kafka is reported, optional).
        *health_routes({"mongodb": mongo_ready}, {"kafka": kafka_ready}),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *starlette_routes(),
    ]
    middleware = [Middleware(LoadSheddingMiddleware, limit=settings.max_concurrent_requests)]
    return instrument_http(
        Starlette(
            routes=routes,
            middleware=middleware,
            exception_handlers=EXCEPTION_HANDLERS,
            lifespan=lambda app: write_side(settings),
        ),
        "command-api",
    )
