"""The command API, assembled by ``create_app(settings)``: the route table, pure-ASGI
middleware, and a lifespan that runs the ``CommandSide`` (``bootstrap``) and hands it to
the endpoints as ``request.state.command_side`` (read through ``command_side``, typed).

Middleware, outermost first: security headers → a URL holding NUL refused → CORS
(configured origins: a storefront's checkout) → failed-authentication limit per address
(the key's own budget — per secret key, and orders per publishable key — is charged by
``authenticate``) → load shedding.
"""

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

from shared import kafka, key_revocation
from shared.http.auth_limits import AuthLimits, AuthLimitsMiddleware, Budget
from shared.http.cors import COMMANDS, CorsMiddleware, origins
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.http.load_shedding import LoadSheddingMiddleware, bearer_tenant
from shared.http.nul_guard import NulGuardMiddleware
from shared.http.security_headers import SecurityHeadersMiddleware
from shared.observability.http import instrument_http
from shared.settings import CommandApiSettings

from command_api.bootstrap import CommandSide, bootstrap
from command_api.entrypoints.http.execute import command_side
from command_api.entrypoints.http.routes import starlette_routes
from command_api.entrypoints.openapi import openapi_document


def auth_limits(settings: CommandApiSettings) -> AuthLimits:
    return AuthLimits(
        failures=Budget(settings.rate_limit_auth_failures_per_second, settings.rate_limit_auth_failures_burst),
        secret=Budget(settings.rate_limit_per_second, settings.rate_limit_burst),
        publishable=Budget(settings.rate_limit_orders_per_second, settings.rate_limit_orders_burst),
    )


def create_app(
    settings: CommandApiSettings | None = None, *, side: Callable[[CommandApiSettings], CommandSide] = bootstrap
) -> Starlette:
    """``side`` builds the command side at start-up: ``bootstrap`` (MongoDB, Kafka) unless
    a test passes another (``bootstrap_in_memory``)."""
    settings = settings or CommandApiSettings()
    openapi = orjson.dumps(openapi_document())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        async with side(settings).running() as running, key_revocation.follow(settings, running.keys):
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
    allowed_origins = origins(settings.cors_allow_origins)
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(NulGuardMiddleware),
        *([Middleware(CorsMiddleware, allow_origins=allowed_origins, policy=COMMANDS)] if allowed_origins else []),
        Middleware(AuthLimitsMiddleware, limits=auth_limits(settings), keyed=lambda path: path.startswith("/v1/")),
        Middleware(LoadSheddingMiddleware, limit=settings.max_concurrent_requests, tenant_of=bearer_tenant),
    ]
    return instrument_http(
        Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan),
        "command-api",
    )
