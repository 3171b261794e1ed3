"""The query API, assembled by ``create_app(settings)``.

Middleware, outermost first: security headers → a URL holding NUL refused → CORS →
request limits → rate limit per address (catalogue) → failed-authentication limit per
address (routes that need a key; the key's own budget is charged by ``authenticate``) →
L1 cache hits (answered there) → load shedding → compression (br/zstd/gzip) → ETag → routes.
All pure ASGI. The lifespan builds the process's parts with ``bootstrap`` (MongoDB, Redis,
the cache...), runs them (the invalidation subscriber and the hot-key recorder), follows
key revocations (``shared.key_revocation``), warms L1 up, and yields them as the one typed
``QuerySide`` every endpoint reads (``side_of``).
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

from shared import key_revocation, mongo
from shared import redis as redis_factory
from shared.http.auth_limits import AuthLimits, AuthLimitsMiddleware, Budget
from shared.http.cors import READS, CorsMiddleware, origins
from shared.http.errors import EXCEPTION_HANDLERS
from shared.http.health import health_routes
from shared.http.load_shedding import LoadSheddingMiddleware, bearer_tenant
from shared.http.nul_guard import NulGuardMiddleware
from shared.http.rate_limit import RateLimitMiddleware
from shared.http.security_headers import SecurityHeadersMiddleware
from shared.observability.http import instrument_http
from shared.observability.settings import ObservabilitySettings
from shared.production_checks import refuse_unsafe, weak_cursor_secret
from shared.settings import QueryApiSettings

from query_api.adapters.cache import warm_up
from query_api.entrypoints import openapi
from query_api.entrypoints.bootstrap import QuerySide, bootstrap, lifespan_state, running, side_of
from query_api.entrypoints.endpoints import analytics, audit, merchant, products, reports
from query_api.entrypoints.http.cache_hits import PUBLIC_PATHS, CacheHitMiddleware, count_shed_read
from query_api.entrypoints.http.compression import CompressionMiddleware
from query_api.entrypoints.http.etag import ETagMiddleware
from query_api.entrypoints.http.limits import RequestLimitsMiddleware


def needs_key(path: str) -> bool:
    """Every ``/v1`` route but the public catalogue authenticates a secret key."""
    return path.startswith("/v1/") and not path.startswith(PUBLIC_PATHS)


def auth_limits(settings: QueryApiSettings) -> AuthLimits:
    per_key = Budget(settings.rate_limit_per_second, settings.rate_limit_burst)
    failures = Budget(settings.rate_limit_auth_failures_per_second, settings.rate_limit_auth_failures_burst)
    return AuthLimits(failures, secret=per_key, publishable=per_key)


def create_app(settings: QueryApiSettings | None = None) -> Starlette:
    settings = settings or QueryApiSettings()
    refuse_unsafe(ObservabilitySettings(), weak_cursor_secret(settings.cursor_secret))
    openapi_body = orjson.dumps(openapi.build([*products.docs, *merchant.docs]))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, QuerySide]]:
        async with running(bootstrap(settings)) as side, key_revocation.follow(settings, side.keys):
            state = lifespan_state(side)
            if settings.warm_up_queries:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(
                        warm_up.warm_up(app, state, side.redis, side.prefix, settings.warm_up_queries), 10.0
                    )
            yield state

    async def mongo_ready(request: Request) -> bool:
        return await mongo.ping(side_of(request).mongo)

    async def redis_ready(request: Request) -> bool:
        return await redis_factory.ping(side_of(request).redis)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json", headers={"Cache-Control": "public, max-age=300"})

    async def cache_stats(request: Request) -> Response:
        side = side_of(request)
        body = {
            **side.cache.stats.snapshot(),
            "l1_entries": len(side.cache.l1),
            "l2_available": side.cache.l2.available,
            "invalidations_subscribed": side.subscribed.is_set(),
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
    allowed_origins = origins(settings.cors_allow_origins)
    middleware = [
        Middleware(SecurityHeadersMiddleware),
        Middleware(NulGuardMiddleware),
        *([Middleware(CorsMiddleware, allow_origins=allowed_origins, policy=READS)] if allowed_origins else []),
        Middleware(
            RequestLimitsMiddleware, max_url_bytes=settings.max_url_bytes, max_body_bytes=settings.max_request_bytes
        ),
        Middleware(
            RateLimitMiddleware, rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst, keyed=needs_key
        ),
        Middleware(AuthLimitsMiddleware, limits=auth_limits(settings), keyed=needs_key),
        Middleware(CacheHitMiddleware),
        # After the L1 hits: a cached answer costs microseconds and is never shed.
        Middleware(
            LoadSheddingMiddleware,
            limit=settings.max_concurrent_requests,
            on_shed=count_shed_read,
            tenant_of=bearer_tenant,
        ),
        Middleware(CompressionMiddleware),
        Middleware(ETagMiddleware),
    ]
    return instrument_http(
        Starlette(routes=routes, middleware=middleware, exception_handlers=EXCEPTION_HANDLERS, lifespan=lifespan),
        "query-api",
    )
