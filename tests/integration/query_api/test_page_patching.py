"""A list page that showed a changed product is put back showing the product as it is now,
without a reload (``L1Cache.patch_pages``), against real Redis and MongoDB: after a stock
change the reader gets the new answer at once — no MongoDB load, no wait, no stale answer —
while a change that moves the product in the sort order still makes the page reload. Every
load is held at the cache's L2 read (a gate), so a reader that needed one would wait."""

from __future__ import annotations

import asyncio

import pytest

from shared.invalidation import Change, publish
from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.read_models import product_doc
from tests.integration.query_api.test_stale_while_revalidate import Gate, until

pytestmark = pytest.mark.integration


async def listed(client, mongo_db, merchant_id: str) -> tuple[dict, str]:
    product = product_doc(merchant_id, 1, stock_status="in_stock")
    await mongo_db[CATALOG_PRODUCTS].insert_one(product)
    path = f"/v1/products?merchant={merchant_id}&sort=price_asc"
    assert (await client.get(path)).json()["data"][0]["stock_status"] == "in_stock"  # loaded: in L1
    return product, path


async def changed(mongo_db, side, settings, product: dict, **values) -> None:
    """What a projector does: the read model written, then the invalidation published."""
    await mongo_db[CATALOG_PRODUCTS].update_one({"_id": product["_id"]}, {"$set": {**values, "version": 2}})
    await publish(
        side.redis, [Change(CATALOG_PRODUCTS, product["merchant_id"], (product["_id"],))], settings.kafka_topic_prefix
    )


async def test_a_stock_change_is_shown_on_the_cached_page_without_a_reload(
    client, query_side, mongo_db, settings, new_merchant_id, monkeypatch
):
    product, path = await listed(client, mongo_db, new_merchant_id)
    stats = query_side.cache.stats
    gate = Gate(query_side.cache, monkeypatch)  # any load from now on waits
    loads, patched = stats.l3_loads, stats.pages_patched
    await changed(mongo_db, query_side, settings, product, stock_status="out_of_stock")
    await until(lambda: stats.pages_patched > patched)

    response = await asyncio.wait_for(client.get(path), 1.0)
    item = response.json()["data"][0]
    assert (item["stock_status"], item["version"]) == ("out_of_stock", 2)
    assert "x-cache" not in response.headers  # current, not stale
    assert stats.l3_loads == loads and gate.waiting == 0  # no load: nothing waited
    gate.opened.set()
    reloaded = await client.get(path.replace("sort=price_asc", "sort=price_asc&limit=20"))  # another key: a load
    assert reloaded.json()["data"] == response.json()["data"]  # the patched page is what a reload gives


async def test_a_price_change_that_moves_the_product_in_a_price_sort_is_reloaded(
    client, query_side, mongo_db, settings, new_merchant_id, monkeypatch
):
    product, path = await listed(client, mongo_db, new_merchant_id)
    stats = query_side.cache.stats
    patched, dropped = stats.pages_patched, stats.pages_dropped
    await changed(
        mongo_db,
        query_side,
        settings,
        product,
        price={"amount": product["price_amount"] + 100, "currency": "EUR"},
        price_amount=product["price_amount"] + 100,
    )
    await until(lambda: stats.pages_dropped > dropped)
    await asyncio.sleep(0.1)  # the read-back done
    assert stats.pages_patched == patched
    response = await client.get(path)  # the previous answer, marked stale, while it reloads, or the new one
    if response.headers.get("x-cache") == "stale":
        await until(lambda: not query_side.cache._revalidating)
        response = await client.get(path)
    assert "x-cache" not in response.headers
    assert response.json()["data"][0]["price"]["amount"] == product["price_amount"] + 100
