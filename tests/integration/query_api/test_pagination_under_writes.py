"""Cursor pagination stays exact while products are inserted: every product that existed
when the walk began is seen exactly once, for every sort.

The four sorts are walked at the same time while a writer inserts 500 products (and
announces them as a projector would), so the walks really interleave with the writes.
The issue-5 size, 5,000 products and 500 inserted, runs in the suite: each page is read
through an index and stopped at its limit on MongoDB and on our FerretDB build (issue 16;
12 s on FerretDB-PostgreSQL with it, 2026-12-06, against minutes when FerretDB sorted
every page in Go). ``QUERY_PAGINATION_PRODUCTS`` scales the fixture (inserts are a tenth).
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest

from shared.invalidation import Change, publish
from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.read_models import product_doc

pytestmark = pytest.mark.integration

ORIGINALS = int(os.environ.get("QUERY_PAGINATION_PRODUCTS", "5000"))
INSERTED = ORIGINALS // 10
MERCHANT = "m-pagination"
SORTS = ("newest", "price_asc", "price_desc", "name")


@pytest.fixture(scope="module")
async def originals(mongo_db) -> set[str]:
    rng = random.Random(7)
    docs = [product_doc(MERCHANT, i, rng) for i in range(ORIGINALS)]
    for start in range(0, ORIGINALS, 1000):
        await mongo_db[CATALOG_PRODUCTS].insert_many(docs[start : start + 1000], ordered=False)
    return {d["_id"] for d in docs}


async def insert_while_walking(mongo_db, redis, prefix: str, walks_started: asyncio.Event) -> int:
    """Insert INSERTED products in batches while the walks run, announcing each batch as a
    projector would (so caches are invalidated and the walks can see the new data)."""
    rng = random.Random(11)
    await walks_started.wait()
    inserted = 0
    while inserted < INSERTED:
        batch = [product_doc(MERCHANT, 100_000 + inserted + k, rng) for k in range(25)]
        await mongo_db[CATALOG_PRODUCTS].insert_many(batch)
        await publish(redis, [Change(CATALOG_PRODUCTS, MERCHANT, tuple(d["_id"] for d in batch))], prefix)
        inserted += len(batch)
    return inserted


async def walk(client, sort: str, started: asyncio.Event, inserts_done) -> tuple[list[dict], int]:
    items: list[dict] = []
    cursor, pages, pages_after_inserts = None, 0, 0
    max_pages = 3 * (ORIGINALS + INSERTED) // 100
    while pages < max_pages:
        params = {"merchant": MERCHANT, "limit": 100, "sort": sort, "fields": "id,price,name"}
        if cursor:
            params["cursor"] = cursor
        response = await client.get("/v1/products", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["data"]
        pages += 1
        pages_after_inserts += inserts_done()
        started.set()
        cursor = body["next_cursor"]
        if not body["has_next"]:
            break
    return items, pages_after_inserts


async def test_cursor_walks_see_every_original_exactly_once(client, query_side, mongo_db, settings, originals):
    started = asyncio.Event()
    writer = asyncio.create_task(insert_while_walking(mongo_db, query_side.redis, settings.kafka_topic_prefix, started))
    results = await asyncio.gather(*(walk(client, s, started, writer.done) for s in SORTS))
    assert await writer == INSERTED
    for sort, (items, pages_after_inserts) in zip(SORTS, results, strict=True):
        ids = [p["id"] for p in items]
        assert len(ids) == len(set(ids)), f"{sort}: {len(ids) - len(set(ids))} items repeated"
        missing = originals - set(ids)
        assert not missing, f"{sort}: {len(missing)} original products skipped"
        assert pages_after_inserts > 0, f"{sort}: the walk ended before the inserts did"
        if sort.startswith("price"):
            prices = [p["price"]["amount"] for p in items]
            assert prices == sorted(prices, reverse=sort == "price_desc")
        if sort == "name":
            names = [p["name"].lower() for p in items]
            assert names == sorted(names)
