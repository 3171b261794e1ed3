"""Redis stopped → the API keeps answering from L1 and MongoDB (no 5xx); Redis back → L2
is used again. Uses a private redis-server: the shared one is never stopped."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import pytest
from redis.asyncio import Redis

from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.read_models import product_doc
from tests.integration.query_api.conftest import query_settings, running_query_api
from tests.support.processes import free_port

pytestmark = pytest.mark.integration


class PrivateRedis:
    def __init__(self) -> None:
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not installed (apt-get install redis-server)"
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url)
        try:
            for _ in range(100):
                try:
                    if await client.ping():
                        return
                except Exception:
                    await asyncio.sleep(0.05)
            raise TimeoutError("private redis-server did not start")
        finally:
            await client.aclose()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
async def private_redis():
    redis = PrivateRedis()
    await redis.start()
    yield redis
    redis.stop()


async def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def test_redis_outage_degrades_to_l1_and_mongodb_then_recovers(server_env, mongo_db, private_redis):
    merchant = "m-redis-outage"
    docs = [product_doc(merchant, i) for i in range(40)]
    await mongo_db[CATALOG_PRODUCTS].insert_many(docs)
    settings = query_settings(server_env, redis_url=private_redis.url, l2_retry_after_seconds=0.2, l1_ttl_seconds=30)
    async with running_query_api(settings) as (client, state):
        stats = state.cache.stats
        cached = await client.get("/v1/products", params={"merchant": merchant})
        assert cached.status_code == 200
        assert stats.l2_misses == 1 and stats.l2_errors == 0

        private_redis.stop()
        statuses = []
        for doc in docs:  # cached list (L1) and uncached products (MongoDB)
            statuses.append((await client.get("/v1/products", params={"merchant": merchant})).status_code)
            response = await client.get(f"/v1/products/{doc['_id']}")
            statuses.append(response.status_code)
            assert response.json()["id"] == doc["_id"]
        assert set(statuses) == {200}
        assert stats.l2_errors >= 1
        ready = await client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["checks"]["redis"] == "degraded"

        await private_redis.start()  # back, empty: any cache key in it was written since
        await wait_until(lambda: _async(state.subscribed.is_set()))
        probe = Redis.from_url(private_redis.url)
        try:
            limits = iter(range(1, 100))  # a new query each time: L1 cannot answer it
            await wait_until(lambda: _written_to_l2(client, probe, merchant, next(limits)))
        finally:
            await probe.aclose()
        assert stats.l2_skipped >= 1
        written_limit = next(limits) - 1
    async with running_query_api(settings) as (fresh, fresh_side):  # empty L1: served from L2
        await fresh.get("/v1/products", params={"merchant": merchant, "limit": written_limit})
        assert fresh_side.cache.stats.l2_hits == 1


async def _async(value):
    return value


async def _written_to_l2(client, probe: Redis, merchant: str, limit: int) -> bool:
    response = await client.get("/v1/products", params={"merchant": merchant, "limit": limit})
    assert response.status_code == 200
    return bool(await probe.keys(f'*qc:products:*"limit":{limit},*'))
