"""The whole stack as real processes: command API, projectors, query API."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from tests.support.processes import Service, http_service, stream_service


@dataclass
class Stack:
    command_api: Service
    query_api: Service
    projectors: Service

    @property
    def services(self) -> list[Service]:
        return [self.command_api, self.query_api, self.projectors]


@pytest.fixture(scope="session")
def stack(server_env, settings, tmp_path_factory) -> Stack:
    logs = tmp_path_factory.mktemp("logs")
    env = {**server_env, "PROJECTOR_GROUP_ID": "projectors",
           "COMMAND_API_RELAY_INTERVAL_SECONDS": "0.5", "COMMAND_API_RELAY_GRACE_SECONDS": "1",
           # CI shares two cores: a slow command should not turn into a 503 here.
           "COMMAND_API_COMMAND_TIMEOUT_SECONDS": "30"}
    command = http_service("command-api", "command-api", env, logs)
    query = http_service("query-api", "query-api", env, logs)
    env["QUERY_API_URL"] = query.url
    command.env = env
    running = Stack(command, query, stream_service("projectors", "projectors", env, logs))
    for service in running.services:
        service.start()
    try:
        for service in running.services:
            service.wait_ready()
        yield running
    finally:
        for service in running.services:
            service.stop()


@pytest.fixture(scope="session")
async def merchant(mongo_db) -> dict:
    from command_api.merchants import create_indexes, create_merchant

    await create_indexes(mongo_db)
    created = await create_merchant(mongo_db, "E2E Shop")
    return {"merchant_id": created.merchant_id, "secret_key": created.secret_key,
            "publishable_key": created.publishable_key}


@pytest.fixture(scope="session")
async def other_merchant(mongo_db, merchant) -> dict:
    from command_api.merchants import create_merchant

    created = await create_merchant(mongo_db, "Another Shop")
    return {"merchant_id": created.merchant_id, "secret_key": created.secret_key,
            "publishable_key": created.publishable_key}


@pytest.fixture
async def command_client(stack) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=stack.command_api.url, timeout=10) as client:
        yield client


@pytest.fixture
async def query_client(stack) -> httpx.AsyncClient:
    async with httpx.AsyncClient(base_url=stack.query_api.url, timeout=10) as client:
        yield client
