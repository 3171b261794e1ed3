"""Cache warm-up: an invalidation makes the worker request the hottest paths of the tags it
invalidated, by priority, from the hot-key record the query API writes (``shared.warmup``;
``tests/e2e/test_cache_warm_up.py`` has the query API write it from real traffic)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared import redis as redis_factory
from shared import warmup
from shared.invalidation import Change, channel, publish

from tests.support.processes import free_port
from tests.support.workers import wait_until, worker

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def recording_api():
    """A real HTTP server standing where the query API is; it records what it was asked."""
    seen: list[str] = []

    async def anything(request: Request) -> JSONResponse:
        seen.append(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return JSONResponse({})

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/{path:path}", anything)]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        server.should_exit = True
        await task


async def test_an_invalidation_rewarms_the_hottest_paths_hottest_first(server_env, settings, tmp_path):
    prefix = settings.kafka_topic_prefix
    redis = redis_factory.open_redis(settings)
    # A collection of its own: the session's other query API processes record real
    # traffic under the same prefix (their cross-merchant lists would rank here too).
    collection = f"warm_{uuid.uuid4().hex[:8]}"
    await warmup.record(
        redis,
        {
            (collection, "id:a"): {"/v1/products/a": 5},
            (collection, "id:b"): {"/v1/products/b": 9},
            (collection, "m-warm"): {"/v1/products?merchant=m-warm": 7, "/v1/products?cursor=x": 2},
            (collection, "*"): {"/v1/products?category=tea": 6},
            (collection, "other"): {"/v1/products?merchant=other": 50},  # not this merchant's
            (collection, "id:z"): {"/v1/products/z": 40},  # not a changed product
        },
        prefix,
    )
    async with recording_api() as (url, seen):
        service = worker(server_env, tmp_path, "workers-warmup", QUERY_API_URL=url, WORKER_WARMUP_TOP_N="3")
        await asyncio.to_thread(lambda: service.start().wait_ready())
        try:

            async def subscribed():
                return dict(await redis.pubsub_numsub(channel(prefix))).get(channel(prefix).encode())

            await wait_until(subscribed, timeout=20, what="the warm-up listener")
            changes = [Change(collection, "m-warm", ("a",)), Change(collection, "m-warm", ("b",))]
            for _ in range(3):  # several invalidations in a burst: one warm-up
                await publish(redis, changes, prefix)

            async def warmed():
                return seen if len(seen) >= 3 else None

            await wait_until(warmed, timeout=20, what="warm-up requests")
            await asyncio.sleep(0.5)  # any further (unwanted) request would land within this
        finally:
            await asyncio.to_thread(service.stop)
            await redis.aclose()
    assert seen == ["/v1/products/b", "/v1/products?merchant=m-warm", "/v1/products?category=tea"]
