"""Cache warm-up over the real path, with nothing written by the test: storefront reads on
one query API process make a product page hot (the hot-key record of ``shared.warmup``);
a price change invalidates it; the warm-up worker reads the record and asks that process
for the page again, which puts the new answer in Redis; a *second* query API process then
answers its first read of the page from L2, without MongoDB."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from shared import redis as redis_factory
from shared import warmup
from shared.read_models import CATALOG_PRODUCTS

from tests.e2e.commands import auth, create_product
from tests.support.processes import http_service
from tests.support.workers import wait_until, worker

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
async def two_query_apis_and_a_worker(stack, server_env, tmp_path_factory):
    logs = tmp_path_factory.mktemp("warm-up")
    env = {**server_env, "QUERY_API_HOT_KEYS_FLUSH_SECONDS": "0.3", "QUERY_API_WARM_UP_QUERIES": "0"}
    first, second = http_service("query-a", "query-api", env, logs), http_service("query-b", "query-api", env, logs)
    warmer = worker(server_env, logs, "workers-warm-up", QUERY_API_URL=first.url, MERCHANT_METRICS_PORT="0")
    services = [first, second, warmer]
    await asyncio.to_thread(lambda: [s.start() for s in services])
    try:
        await asyncio.to_thread(lambda: [s.wait_ready(timeout=60) for s in services])
        yield first, second, warmer
    finally:
        await asyncio.to_thread(lambda: [s.stop() for s in services])


async def cache_of(client: httpx.AsyncClient, url: str) -> dict:
    return (await client.get(f"{url}/health/cache")).json()


async def test_real_reads_make_a_page_hot_and_the_worker_rewarms_it_for_another_process(
    two_query_apis_and_a_worker, command_client, merchant, settings
):
    first, second, warmer = two_query_apis_and_a_worker
    product_id = await create_product(command_client, merchant, price={"amount": 1000, "currency": "EUR"})
    page = f"/v1/products/{product_id}"
    redis = redis_factory.open_redis(settings)
    async with httpx.AsyncClient(timeout=10) as client:
        try:

            async def served_by_first():
                return (await client.get(f"{first.url}{page}")).status_code == 200

            await wait_until(served_by_first, timeout=30, what="the product on the first query API")
            for _ in range(5):  # storefront traffic: the page is hot now
                assert (await client.get(f"{first.url}{page}")).status_code == 200

            async def recorded():
                scope = [warmup.doc_scope(product_id)]
                hot = await warmup.hottest(redis, CATALOG_PRODUCTS, scope, 5, settings.kafka_topic_prefix)
                return f"{page}?" in hot

            await wait_until(recorded, timeout=10, what="the page in the hot-key record")
            loads_before = (await cache_of(client, first.url))["l3_loads"]

            changed = await command_client.post(
                f"/v1/products/{product_id}/price",
                json={"price": {"amount": 1250, "currency": "EUR"}},
                headers=auth(merchant["secret_key"]),
            )
            assert changed.status_code == 202, changed.text

            async def rewarmed():  # the worker asked the first process again, and is done
                loads = (await cache_of(client, first.url))["l3_loads"]
                jobs = (await client.get(f"{warmer.url}/ops/jobs")).json()["process"]["kinds"]["warmup"]
                return loads > loads_before and jobs["in_flight"] == 0 and jobs["succeeded"] >= 1

            await wait_until(rewarmed, timeout=30, what="the worker to re-warm the page")
            before = await cache_of(client, second.url)
            answer = await client.get(f"{second.url}{page}")
            after = await cache_of(client, second.url)
        finally:
            await redis.aclose()

    assert answer.status_code == 200 and answer.json()["price"]["amount"] == 1250
    assert after["l2_hits"] - before["l2_hits"] == 1  # from Redis, as the worker left it
    assert after["l3_loads"] == before["l3_loads"]  # not from MongoDB
