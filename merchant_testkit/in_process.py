"""An app run in this process, as a server would run it: its lifespan entered, each
request carrying the lifespan's state, an ``httpx`` client talking to it over ASGI.

For tests and tools that need the real app (its bootstrap: MongoDB, Redis, Kafka) without
a server process — and a process of their own to look into (tracemalloc, counters).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from shared.settings import QueryApiSettings


@contextlib.asynccontextmanager
async def running_app(app: Any, base_url: str) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, Any]]]:
    """Yields a client and the lifespan's state; the lifespan is left on the way out."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope, receive, send):
            scope["state"] = dict(state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url=base_url, timeout=30) as client:
            yield client, state


@contextlib.asynccontextmanager
async def running_query_api(settings: QueryApiSettings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    """The query API with its lifespan entered (its ``bootstrap``). Yields a client and the
    process's ``QuerySide``."""
    from query_api.entrypoints.app import create_app
    from query_api.entrypoints.bootstrap import side_of_scope

    async with running_app(create_app(settings), "http://query-api") as (client, state):
        yield client, side_of_scope({"state": state})
