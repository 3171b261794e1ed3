"""The cache against real Redis and MongoDB: invalidation, single-flight, read-your-writes."""

from __future__ import annotations

import asyncio

import pytest

from shared.read_models import CATALOG_PRODUCTS
from tests.support.freshness import change_price, price_changes_are_never_served_stale
from tests.support.read_models import product_doc

pytestmark = pytest.mark.integration


@pytest.fixture
async def product(mongo_db, new_merchant_id) -> dict:
    doc = product_doc(new_merchant_id, 1)
    await mongo_db[CATALOG_PRODUCTS].insert_one(doc)
    return doc


async def test_price_change_is_never_served_stale_after_invalidation(client, app_state, mongo_db, settings, product):
    delays = await price_changes_are_never_served_stale(
        client, mongo_db, app_state["redis"], settings.kafka_topic_prefix, product)
    assert len(delays) == 10


async def test_second_read_is_an_l1_hit_and_a_fresh_process_hits_l2(client, app_state, server_env, product):
    from tests.integration.query_api.conftest import query_settings, running_query_api

    stats = app_state["cache"].stats
    path = f"/v1/products/{product['_id']}"
    before = stats.snapshot()
    await client.get(path)
    await client.get(path)
    after = stats.snapshot()
    assert after["l3_loads"] - before["l3_loads"] == 1
    assert after["l1_hits"] - before["l1_hits"] == 1
    async with running_query_api(query_settings(server_env)) as (other, other_state):
        assert (await other.get(path)).json()["id"] == product["_id"]
        assert other_state["cache"].stats.l2_hits == 1
        assert other_state["cache"].stats.l3_loads == 0


async def test_cold_key_is_loaded_once_for_many_waiters(client, app_state, mongo_db, new_merchant_id):
    await mongo_db[CATALOG_PRODUCTS].insert_many([product_doc(new_merchant_id, i) for i in range(30)])
    stats = app_state["cache"].stats
    before = stats.snapshot()
    responses = await asyncio.gather(*(client.get("/v1/products", params={"merchant": new_merchant_id})
                                       for _ in range(50)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    after = stats.snapshot()
    assert after["l3_loads"] - before["l3_loads"] == 1
    assert after["l2_misses"] - before["l2_misses"] == 1


async def test_min_version_waits_for_the_projection(client, app_state, mongo_db, settings, product):
    path = f"/v1/products/{product['_id']}"
    assert (await client.get(path)).json()["version"] == 1

    async def project_later():
        await asyncio.sleep(0.3)
        await change_price(mongo_db, app_state["redis"], settings.kafka_topic_prefix, product, 777, 2)

    task = asyncio.create_task(project_later())
    response = await client.get(path, params={"min_version": 2})
    await task
    assert response.status_code == 200
    assert response.json()["version"] == 2 and response.json()["price"]["amount"] == 777


async def test_min_version_not_reached_is_409_with_retry_after(client, product):
    response = await client.get(f"/v1/products/{product['_id']}", headers={"X-Min-Version": "99"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "version_not_yet_visible"
    assert int(response.headers["retry-after"]) >= 1


async def test_product_not_yet_projected_with_min_version_is_409_not_404(client):
    response = await client.get("/v1/products/p-not-yet", params={"min_version": 1})
    assert response.status_code == 409
