"""The command API, assembled by ``create_app(settings)``: the route table, pure-ASGI
middleware, and a lifespan that runs the ``CommandSide`` (``bootstrap``) and hands it to
the endpoints as ``request.state.command_side`` (read through ``command_side``, typed)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared import kafka
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.http.load_shedding import LoadSheddingMiddleware, bearer_tenant
from shared.observability.http import instrument_http
from shared.settings import CommandApiSettings

from command_api.bootstrap import CommandSide, bootstrap
from command_api.entrypoints.http.execute import command_side
from command_api.entrypoints.http.routes import starlette_routes
from command_api.entrypoints.openapi import openapi_document


def create_app(
    settings: CommandApiSettings | None = None, *, side: Callable[[CommandApiSettings], CommandSide] = bootstrap
) -> Starlette:
    """``side`` builds the command side at start-up: ``bootstrap`` (MongoDB, Kafka) unless
    a test passes another (``bootstrap_in_memory``)."""
    settings = settings or CommandApiSettings()
    openapi = orjson.dumps(openapi_document())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with side(settings).running() as running:
            yield {"command_side": running}

    async def store_ready(request: Request) -> bool:
        return await command_side(request).resources.ping()

    async def kafka_ready(request: Request) -> bool:
        return await kafka.ping(settings)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    routes = [
        # Ready needs MongoDB only: with Kafka down, commands are still accepted durably
        # and published later, so the API stays in service (Kafka is reported, optional).
        *health_routes({"mongodb": store_ready}, {"kafka": kafka_ready}),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *starlette_routes(),
    ]
    middleware = [Middleware(LoadSheddingMiddleware, limit=settings.max_concurrent_requests, tenant_of=bearer_tenant)]
    return instrument_http(
        Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan),
        "command-api",
    )
