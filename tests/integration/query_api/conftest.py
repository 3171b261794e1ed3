"""The query API in process (its real lifespan: MongoDB, Redis, the subscriber) and
read-model fixtures written straight into MongoDB per ``shared/read_models.py``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from shared.settings import QueryApiSettings

from merchant_testkit.in_process import running_query_api
from merchant_testkit.read_models import product_doc
from query_api.entrypoints.bootstrap import QuerySide


def query_settings(server_env: dict, **overrides) -> QueryApiSettings:
    values = {k.lower(): v for k, v in server_env.items()}
    values.update({"rate_limit_per_second": 100_000, "rate_limit_burst": 100_000, "warm_up_queries": 0})
    values.update({"rate_limit_auth_failures_per_second": 100_000, "rate_limit_auth_failures_burst": 100_000})
    values.update(overrides)
    return QueryApiSettings(**values)


@pytest.fixture(scope="module")
async def query_api(server_env, settings) -> AsyncIterator[tuple[httpx.AsyncClient, QuerySide]]:
    async with running_query_api(query_settings(server_env)) as running:
        yield running


@pytest.fixture(scope="module")
def client(query_api) -> httpx.AsyncClient:
    return query_api[0]


@pytest.fixture(scope="module")
def query_side(query_api) -> QuerySide:
    return query_api[1]


@pytest.fixture(scope="module")
async def merchants(mongo_db) -> list:
    from command_api.bootstrap import bootstrap

    side = bootstrap(db=mongo_db)
    await side.prepare()
    return [await side.merchants.create(f"Shop {i}") for i in range(2)]


@pytest.fixture
def new_merchant_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


__all__ = ["product_doc", "query_settings", "running_query_api"]
