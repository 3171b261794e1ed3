"""A command API in this process, with its real bootstrap, on the environment's servers:
its own namespace (database and topic prefix, dropped at the end) and one merchant.
For probes that instrument the process itself (``lone_trace``, ``order_tail``)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any


@asynccontextmanager
async def command_api(prefix: str, overrides: Mapping[str, Any] | None = None) -> AsyncIterator[tuple[Any, Any, Any]]:
    """Yields ``(client, merchant, db)``: an HTTP client to the app, the merchant (its keys),
    the namespace's database; ``overrides`` are settings on top of the namespace's."""
    from shared.settings import CommandApiSettings

    from command_api.bootstrap import bootstrap
    from command_api.entrypoints.app import create_app
    from merchant_testkit import servers as server_support
    from merchant_testkit.in_process import running_app
    from merchant_testkit.plugin import namespace_database, namespace_settings

    found = server_support.resolve()
    env = found.env(f"{prefix}_{uuid.uuid4().hex[:10]}")
    try:
        async with namespace_settings(env) as settings, namespace_database(settings) as db:
            setup = bootstrap(db=db)
            await setup.prepare()
            merchant = await setup.merchants.create(f"{prefix} shop")
            await setup.close()
            app = create_app(CommandApiSettings(**{**dict(settings), **(overrides or {})}))
            async with running_app(app, "http://command-api") as (client, _):
                yield client, merchant, db
    finally:
        found.stop()
