"""The cache against real Redis and MongoDB: invalidation, single-flight, read-your-writes."""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.read_models import product_doc
from tests.support.freshness import change_price, price_changes_are_never_served_stale

pytestmark = pytest.mark.integration


@pytest.fixture
async def product(mongo_db, new_merchant_id) -> dict:
    doc = product_doc(new_merchant_id, 1)
    await mongo_db[CATALOG_PRODUCTS].insert_one(doc)
    return doc


async def test_price_change_is_never_served_stale_after_invalidation(client, query_side, mongo_db, settings, product):
    delays = await price_changes_are_never_served_stale(
        client, mongo_db, query_side.redis, settings.kafka_topic_prefix, product
    )
    assert len(delays) == 10


async def test_second_read_is_an_l1_hit_and_a_fresh_process_hits_l2(client, query_side, server_env, product):
    from tests.integration.query_api.conftest import query_settings, running_query_api

    stats = query_side.cache.stats
    path = f"/v1/products/{product['_id']}"
    before = stats.snapshot()
    await client.get(path)
    await client.get(path)
    after = stats.snapshot()
    assert after["l3_loads"] - before["l3_loads"] == 1
    assert after["l1_hits"] - before["l1_hits"] == 1
    async with running_query_api(query_settings(server_env)) as (other, other_side):
        assert (await other.get(path)).json()["id"] == product["_id"]
        assert other_side.cache.stats.l2_hits == 1
        assert other_side.cache.stats.l3_loads == 0


async def test_cold_key_is_loaded_once_for_many_waiters(client, query_side, mongo_db, new_merchant_id):
    await mongo_db[CATALOG_PRODUCTS].insert_many([product_doc(new_merchant_id, i) for i in range(30)])
    stats = query_side.cache.stats
    before = stats.snapshot()
    responses = await asyncio.gather(
        *(client.get("/v1/products", params={"merchant": new_merchant_id}) for _ in range(50))
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    after = stats.snapshot()
    assert after["l3_loads"] - before["l3_loads"] == 1
    assert after["l2_misses"] - before["l2_misses"] == 1


async def test_min_version_waits_for_the_projection(client, query_side, mongo_db, settings, product):
    path = f"/v1/products/{product['_id']}"
    assert (await client.get(path)).json()["version"] == 1

    async def project_later():
        await asyncio.sleep(0.3)
        await change_price(mongo_db, query_side.redis, settings.kafka_topic_prefix, product, 777, 2)

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


async def test_a_change_to_one_product_keeps_other_products_in_l2(
    client, query_side, server_env, settings, mongo_db, new_merchant_id
):
    """L2 validates a product page by that product's generation, not the whole catalogue's."""
    from shared.invalidation import Change, publish

    from tests.integration.query_api.conftest import query_settings, running_query_api

    changed, kept = product_doc(new_merchant_id, 1), product_doc(new_merchant_id, 2)
    await mongo_db[CATALOG_PRODUCTS].insert_many([changed, kept])
    for doc in (changed, kept):
        assert (await client.get(f"/v1/products/{doc['_id']}")).status_code == 200  # both in L2
    await publish(
        query_side.redis, [Change(CATALOG_PRODUCTS, new_merchant_id, (changed["_id"],))], settings.kafka_topic_prefix
    )
    async with running_query_api(query_settings(server_env)) as (other, other_side):
        for doc in (changed, kept):
            assert (await other.get(f"/v1/products/{doc['_id']}")).status_code == 200
        stats = other_side.cache.stats
        assert (stats.l2_hits, stats.l3_loads) == (1, 1)  # kept: from L2; changed: reloaded


async def test_a_change_drops_only_the_list_pages_it_affects(client, query_side, mongo_db, settings, new_merchant_id):
    """Pages by price, 5 a page: a price change reloads the page showing the product and the
    page it moves into (found by reading the product back), and no other page."""
    from shared.invalidation import Change, publish

    docs = [product_doc(new_merchant_id, i) for i in range(20)]
    for i, doc in enumerate(docs):
        doc["price"], doc["price_amount"] = {"amount": 1000 + 10 * i, "currency": "EUR"}, 1000 + 10 * i
    await mongo_db[CATALOG_PRODUCTS].insert_many(docs)
    params = {"merchant": new_merchant_id, "sort": "price_asc", "limit": 5}
    cursors, pages = [None], []
    for _ in range(4):  # walk the four pages; then read them again so each is in L1
        response = await client.get(
            "/v1/products", params={**params, **({"cursor": cursors[-1]} if cursors[-1] else {})}
        )
        pages.append(response.json())
        cursors.append(response.json()["next_cursor"])
    paths = [{**params, **({"cursor": c} if c else {})} for c in cursors[:4]]
    for p in paths:
        await client.get("/v1/products", params=p)
    stats = query_side.cache.stats
    # The cheapest product (page 1) now costs 1,125: it moves to page 3 (1120..1140).
    moved = docs[0]
    await mongo_db[CATALOG_PRODUCTS].update_one(
        {"_id": moved["_id"]},
        {"$set": {"price": {"amount": 1125, "currency": "EUR"}, "price_amount": 1125, "version": 2}},
    )
    before = stats.snapshot()
    await publish(
        query_side.redis, [Change(CATALOG_PRODUCTS, new_merchant_id, (moved["_id"],))], settings.kafka_topic_prefix
    )
    for _ in range(100):  # the message, then the read-back, reach the subscriber
        if stats.pages_dropped - before["pages_dropped"] >= 2:
            break
        await asyncio.sleep(0.02)
    hits_before = stats.l1_hits
    responses = [await client.get("/v1/products", params=p) for p in paths]
    assert stats.pages_dropped - before["pages_dropped"] == 2
    assert stats.l1_hits - hits_before == 2  # pages 2 and 4 were still cached
    # pages 1 and 3 were dropped: their previous answers while they reload (docs/api.md)
    assert [r.headers.get("x-cache") for r in responses] == ["stale", None, "stale", None]
    for _ in range(200):
        if not query_side.cache._revalidating:
            break
        await asyncio.sleep(0.01)
    served = [(await client.get("/v1/products", params=p)).json() for p in paths]
    assert moved["_id"] not in {d["id"] for d in served[0]["data"]}
    assert moved["_id"] in {d["id"] for d in served[2]["data"]}
    assert served[1] == pages[1] and served[3] == pages[3]


async def test_a_cursor_walk_reads_ahead_when_asked(server_env, mongo_db, new_merchant_id):
    """With QUERY_API_CURSOR_READ_AHEAD_PAGES=5 (for servers that scan), a walk of 10 pages
    following cursors costs 3 queries: page 1, then pages 2-6 and 7-10, the pages after each
    first one served from L2. By default (1) each page is its own query of limit + 1."""
    from tests.integration.query_api.conftest import query_settings, running_query_api

    docs = [product_doc(new_merchant_id, i) for i in range(50)]
    await mongo_db[CATALOG_PRODUCTS].insert_many(docs)
    for read_ahead, sort, loads, l2_hits in ((5, "name", 3, 7), (1, "price_asc", 10, 0)):  # (other keys each)
        async with running_query_api(query_settings(server_env, cursor_read_ahead_pages=read_ahead)) as (client, side):
            stats = side.cache.stats
            before = stats.snapshot()
            seen, cursor = [], None
            while True:
                params = {
                    "merchant": new_merchant_id,
                    "limit": 5,
                    "sort": sort,
                    **({"cursor": cursor} if cursor else {}),
                }
                body = (await client.get("/v1/products", params=params)).json()
                seen += [d["id"] for d in body["data"]]
                cursor = body["next_cursor"]
                if not body["has_next"]:
                    break
            assert sorted(seen) == sorted(d["_id"] for d in docs) and len(seen) == len(set(seen))
            after = stats.snapshot()
            assert after["l3_loads"] - before["l3_loads"] == loads, read_ahead
            assert after["l2_hits"] - before["l2_hits"] == l2_hits, read_ahead
            assert after["read_ahead_pages"] - before["read_ahead_pages"] == l2_hits, read_ahead


async def test_a_read_your_writes_read_repairs_the_caches(client, query_side, server_env, mongo_db, new_merchant_id):
    """Between the projector's read-model write and its invalidation, a min_version read that
    finds the new version invalidates the caches itself: the plain reads after it, in this
    process (L1) and in another one (L2), get the new price though no projector signalled."""
    from tests.integration.query_api.conftest import query_settings, running_query_api

    product = product_doc(new_merchant_id, 7)
    await mongo_db[CATALOG_PRODUCTS].insert_one(product)
    path = f"/v1/products/{product['_id']}"
    lists = {"merchant": new_merchant_id}
    old = (await client.get(path)).json()["price"]["amount"]
    await client.get("/v1/products", params=lists)
    assert (await client.get(path)).json()["price"]["amount"] == old  # cached now, L1 and L2
    await mongo_db[CATALOG_PRODUCTS].update_one(
        {"_id": product["_id"]},
        {"$set": {"price": {"amount": old + 1, "currency": "EUR"}, "price_amount": old + 1, "version": 2}},
    )
    assert (await client.get(path)).json()["price"]["amount"] == old  # the window: not signalled yet
    fresh = await client.get(path, params={"min_version": 2})
    assert fresh.json()["price"]["amount"] == old + 1
    assert (await client.get(path)).json()["price"]["amount"] == old + 1
    listed = (await client.get("/v1/products", params=lists)).json()["data"]
    assert [p["price"]["amount"] for p in listed] == [old + 1]
    async with running_query_api(query_settings(server_env)) as (other, _):
        assert (await other.get(path)).json()["price"]["amount"] == old + 1


async def test_a_starting_process_replays_the_hottest_reads_recorded_by_the_others(
    client, query_side, server_env, settings, product
):
    from query_api.adapters.cache import warm_up
    from tests.integration.query_api.conftest import query_settings, running_query_api

    path = f"/v1/products/{product['_id']}"
    for _ in range(100):  # hotter than what the session's other tests read
        assert (await client.get(path)).status_code == 200
    await warm_up.flush(query_side.cache.hot, query_side.redis, settings.kafka_topic_prefix)

    async with running_query_api(query_settings(server_env, warm_up_queries=10)) as (other, other_side):
        stats = other_side.cache.stats
        warmed = stats.snapshot()
        assert (await other.get(path)).status_code == 200
        assert stats.l1_hits - warmed["l1_hits"] == 1  # in L1 before its first request
        assert other_side.cache.hot.take() == {(CATALOG_PRODUCTS, f"id:{product['_id']}"): {f"{path}?": 1}}


async def test_each_kind_of_read_has_its_ttl_in_redis_spread_by_jitter(
    client, query_side, mongo_db, settings, new_merchant_id
):
    """Per-kind TTLs (product 5 min, list 5 min, categories 10 min by default), each entry's
    scaled by up to ±10 %: entries loaded together do not expire together."""
    docs = [product_doc(new_merchant_id, i) for i in range(20)]
    await mongo_db[CATALOG_PRODUCTS].insert_many(docs)
    began = time.monotonic()
    for doc in docs:
        assert (await client.get(f"/v1/products/{doc['_id']}")).status_code == 200
    assert (await client.get("/v1/products", params={"merchant": new_merchant_id})).status_code == 200
    assert (await client.get("/v1/categories", params={"merchant": new_merchant_id})).status_code == 200

    redis, prefix = query_side.redis, settings.kafka_topic_prefix

    async def ttl(key: str) -> float:
        return await redis.pttl(f"{prefix}qc:{key}") / 1000

    products = [await ttl(f'product:{{"fields":null,"id":"{doc["_id"]}"}}') for doc in docs]
    listing = await ttl(f'products:{{"merchant":"{new_merchant_id}"}}')
    categories = await ttl(f'categories:{{"merchant":"{new_merchant_id}"}}')
    elapsed = time.monotonic() - began + 1  # TTLs count down while the test runs

    def within(seconds: float, ttl: float) -> bool:
        return 0.9 * seconds - elapsed <= ttl <= 1.1 * seconds

    assert all(within(300, t) for t in products), products
    assert max(products) - min(products) > 5, products  # spread, not one instant
    assert within(300, listing), listing
    assert within(600, categories), categories
