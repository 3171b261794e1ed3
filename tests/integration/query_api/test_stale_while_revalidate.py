"""Stale-while-revalidate against real Redis and MongoDB: after a projector's change, a
storefront reader gets the previous answer at once (``X-Cache: stale``, ``Age``) while one
reload runs; the reader after the reload gets the new one. A read-your-writes read never
gets stale data, nor do the plain reads after it; past ``QUERY_API_MAX_STALE_SECONDS``
readers wait.

The reload is made slow at the cache's port to the store (its L2 read, which every load
goes through before MongoDB): a gate the test opens.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.read_models import merchant_product_doc, product_doc
from tests.support.freshness import change_price

pytestmark = pytest.mark.integration


GATES: list[Gate] = []


@pytest.fixture(autouse=True)
def open_gates_after():
    """A failed test must not leave loads held: the module's process shuts down after."""
    yield
    for gate in GATES:
        gate.opened.set()
    GATES.clear()


class Gate:
    """Holds every cache load at the L2 read until opened."""

    def __init__(self, cache, monkeypatch) -> None:
        GATES.append(self)
        self.opened = asyncio.Event()
        self.waiting = 0
        original = cache.l2.get

        async def slow_get(key, tag):
            self.waiting += 1
            await self.opened.wait()
            return await original(key, tag)

        monkeypatch.setattr(cache.l2, "get", slow_get)


async def until(condition, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def price(response) -> int:
    body = response.json()
    return body["data"][0]["price"]["amount"] if "data" in body else body["price"]["amount"]


async def cached_then_changed(client, side, mongo_db, settings, merchant_id, monkeypatch):
    """A product read by id and in its merchant's list (both in L1), then its price changed
    as a projector does, while loads are held. Returns (product, paths, old ETags, gate)."""
    product = product_doc(merchant_id, 1)
    await mongo_db[CATALOG_PRODUCTS].insert_one(product)
    paths = [f"/v1/products/{product['_id']}", f"/v1/products?merchant={merchant_id}"]
    etags = [(await client.get(p)).headers["etag"] for p in paths]
    for p in paths:  # read again: valid in L1 just now
        assert "x-cache" not in (await client.get(p)).headers
    gate = Gate(side.cache, monkeypatch)
    await change_price(mongo_db, side.redis, settings.kafka_topic_prefix, product, product["price_amount"] + 1, 2)
    return product, paths, etags, gate


async def test_a_reader_after_a_change_gets_the_old_answer_at_once_then_the_new_one(
    client, query_side, mongo_db, settings, new_merchant_id, monkeypatch
):
    product, paths, etags, gate = await cached_then_changed(
        client, query_side, mongo_db, settings, new_merchant_id, monkeypatch
    )
    old = product["price_amount"]
    stats = query_side.cache.stats
    before = stats.snapshot()
    # until the message is applied the reads are plain L1 hits; then they are stale, at once
    for p, etag in zip(paths, etags, strict=True):
        for _ in range(400):
            response = await asyncio.wait_for(client.get(p), 1.0)  # never waits for the held load
            if response.headers.get("x-cache") == "stale":
                break
            await asyncio.sleep(0.005)
        assert response.headers.get("x-cache") == "stale", p
        assert price(response) == old
        assert response.headers["etag"] == etag  # the ETag of what is served
        assert 1 <= int(response.headers["age"]) <= 2
    after = stats.snapshot()
    assert after["stale_served"] - before["stale_served"] >= 2
    assert after["background_reloads"] - before["background_reloads"] == 2  # one per key
    assert gate.waiting == 2
    gate.opened.set()
    await until(lambda: not query_side.cache._revalidating)
    for p in paths:
        response = await client.get(p)
        assert price(response) == old + 1 and "x-cache" not in response.headers and "age" not in response.headers


async def test_a_read_your_writes_read_and_the_reads_after_it_are_never_stale(
    client, query_side, mongo_db, settings, new_merchant_id, monkeypatch
):
    product, paths, _, gate = await cached_then_changed(
        client, query_side, mongo_db, settings, new_merchant_id, monkeypatch
    )
    old = product["price_amount"]
    for _ in range(400):  # the projector's message applied: plain readers are answered stale
        response = await client.get(paths[0])
        if response.headers.get("x-cache") == "stale":
            break
        await asyncio.sleep(0.005)
    assert price(response) == old
    fresh = await client.get(paths[0], params={"min_version": 2})  # past the cache: not held
    assert price(fresh) == old + 1 and "x-cache" not in fresh.headers
    readers = [asyncio.create_task(client.get(p)) for p in paths]  # must wait for the reload now
    await asyncio.sleep(0.2)
    assert not any(r.done() for r in readers)
    gate.opened.set()
    for response in await asyncio.gather(*readers):
        assert price(response) == old + 1 and "x-cache" not in response.headers


async def test_past_the_maximum_staleness_readers_wait(server_env, mongo_db, settings, new_merchant_id, monkeypatch):
    from tests.integration.query_api.conftest import query_settings, running_query_api

    async with running_query_api(query_settings(server_env, max_stale_seconds=1.0)) as (client, side):
        product, paths, _, gate = await cached_then_changed(
            client, side, mongo_db, settings, new_merchant_id, monkeypatch
        )
        old = product["price_amount"]
        for _ in range(400):
            response = await client.get(paths[0])
            if response.headers.get("x-cache") == "stale":
                break
            await asyncio.sleep(0.005)
        assert price(response) == old
        stale_since = time.monotonic()
        while time.monotonic() - stale_since < 0.3:  # well within the bound: stale, at once
            response = await asyncio.wait_for(client.get(paths[0]), 0.5)
            assert response.headers.get("x-cache") == "stale" and price(response) == old
            await asyncio.sleep(0.02)
        await asyncio.sleep(stale_since + 1.1 - time.monotonic())
        reader = asyncio.create_task(client.get(paths[0]))
        await asyncio.sleep(0.2)
        assert not reader.done()  # past the bound: no stale answer
        gate.opened.set()
        response = await reader
        assert price(response) == old + 1 and "x-cache" not in response.headers


async def test_merchant_reads_are_never_served_stale(client, query_side, mongo_db, settings, merchants, monkeypatch):
    from shared.invalidation import Change, publish
    from shared.read_models import MERCHANT_PRODUCTS

    merchant, secret = merchants[0].merchant_id, merchants[0].secret_key
    doc = merchant_product_doc(merchant, 91)
    await mongo_db[MERCHANT_PRODUCTS].insert_one(doc)
    headers = {"Authorization": f"Bearer {secret}"}
    path = f"/v1/merchant/products?sku={doc['sku']}"
    assert (await client.get(path, headers=headers)).status_code == 200
    assert (await client.get(path, headers=headers)).status_code == 200
    gate = Gate(query_side.cache, monkeypatch)
    invalidated = query_side.cache.stats.l1_invalidated
    # renamed out of the page's filter: the page cannot be patched (L1Cache.patch_pages), it must be reloaded
    await mongo_db[MERCHANT_PRODUCTS].update_one({"_id": doc["_id"]}, {"$set": {"sku": doc["sku"] + "-renamed"}})
    await publish(query_side.redis, [Change(MERCHANT_PRODUCTS, merchant, (doc["_id"],))], settings.kafka_topic_prefix)
    await asyncio.sleep(0.2)  # the message applied
    reader = asyncio.create_task(client.get(path, headers=headers))
    await asyncio.sleep(0.2)
    assert not reader.done()
    gate.opened.set()
    response = await reader
    assert response.status_code == 200 and "x-cache" not in response.headers
    assert response.json()["data"] == []  # the reload's answer, never the old page
    assert query_side.cache.stats.l1_invalidated > invalidated
