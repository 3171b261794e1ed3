"""What grows in the query API: a storefront-like loop against the app in process (its real
lifespan: MongoDB, Redis, the invalidation subscriber) on a namespace of its own, with
tracemalloc snapshots after the first minute and at the end, diffed by line and traceback.

    eval "$(merchant infra env)"; python -m loadtests.query_memory [SECONDS]   # default 180

One request at a time (no concurrency: it finds what is kept, not how fast); a mix of
product pages (the load runs' popularity, 1 / (rank + 1) ** 0.8, over 2,500 products of 5
merchants), category lists in four sorts, cursor walks that go on page after page,
categories, and 3 % price changes written and signalled as a projector does. Prints RSS and
the cache's sizes (L1's bytes too) per 1,000 requests, its counters and the top growth.
Not a benchmark; drops its database at the end.
"""

import asyncio
import gc
import itertools
import os
import random
import sys
import time
import tracemalloc
import uuid

from pymongo import AsyncMongoClient

from shared.invalidation import Change, publish
from shared.read_models import CATALOG_PRODUCTS
from shared.settings import QueryApiSettings

from loadtests.memory_probe import own_namespace, print_growth, rss_mb
from merchant_testkit.in_process import running_query_api
from merchant_testkit.read_models import product_doc

DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 180


def l1_bytes(l1) -> int:
    return sum(len(s.entry.body) + sum(map(len, s.entry.encoded.values())) for s in l1._slots.values())


def sizes(side) -> str:
    cache = side.cache
    logs = sum(len(state.log or ()) for state in cache.epochs._tags.values())
    return (
        f"traced {tracemalloc.get_traced_memory()[0] / 1e6:.1f} MB, L1 {len(cache.l1)}, stale {len(cache.l1._stale)}, "
        f"tags {len(cache.epochs)}, precise changes logged {logs}, page tags {len(cache.l1._pages)}, "
        f"hot keys {len(cache.hot.counts)}, L1 bytes {l1_bytes(cache.l1) / 1e6:.1f} MB"
    )


async def main():
    ns = f"memdrive_{uuid.uuid4().hex[:8]}"
    settings = QueryApiSettings(**own_namespace(ns, warm_up_queries=0))
    mongo = AsyncMongoClient(os.environ["MONGODB_URL"], tz_aware=True)
    db = mongo[ns]
    merchants = [f"m{i}" for i in range(5)]
    docs = [product_doc(m, i) for m in merchants for i in range(500)]
    # Popularity as the load runs draw it (loadtests/locustfile.py: 1 / (rank + 1) ** 0.8).
    popularity = list(itertools.accumulate(1.0 / (rank + 1) ** 0.8 for rank in range(len(docs))))
    await db[CATALOG_PRODUCTS].insert_many(docs)
    rng = random.Random(1)
    sorts = ["newest", "price_asc", "price_desc", "name"]
    cats = sorted({d["category"] for d in docs})
    try:
        async with running_query_api(settings) as (client, side):
            tracemalloc.start(10)
            start = time.monotonic()
            snap1 = None
            n = 0
            cursors: list = []
            while time.monotonic() - start < DURATION:
                r = rng.random()
                if r < 0.46:
                    d = rng.choices(docs, cum_weights=popularity)[0]
                    await client.get(f"/v1/products/{d['_id']}")
                elif r < 0.76:
                    params = {"sort": rng.choice(sorts), "category": rng.choice(cats)}
                    if rng.random() < 0.33:
                        params["merchant"] = rng.choice(merchants)
                    resp = await client.get("/v1/products", params=params)
                    c = resp.json().get("next_cursor")
                    if c:
                        cursors.append((params, c))
                        cursors = cursors[-200:]
                elif r < 0.89 and cursors:
                    params, c = cursors.pop(rng.randrange(len(cursors)))
                    resp = await client.get("/v1/products", params={**params, "cursor": c})
                    c = resp.json().get("next_cursor")
                    if c:  # a walk goes on, as the load runs' visitors do
                        cursors.append((params, c))
                elif r < 0.97:
                    await client.get(
                        "/v1/categories", params={"merchant": rng.choice(merchants)} if rng.random() < 0.5 else {}
                    )
                else:
                    d = rng.choice(docs)
                    d["price_amount"] += 1
                    await db[CATALOG_PRODUCTS].update_one(
                        {"_id": d["_id"]},
                        {
                            "$set": {
                                "price_amount": d["price_amount"],
                                "price": {"amount": d["price_amount"], "currency": "EUR"},
                            },
                            "$inc": {"version": 1},
                        },
                    )
                    await publish(
                        side.redis,
                        [Change(CATALOG_PRODUCTS, d["merchant_id"], (d["_id"],))],
                        settings.kafka_topic_prefix,
                    )
                n += 1
                if n % 1000 == 0:
                    print(
                        f"{n} requests, {time.monotonic() - start:.0f} s, RSS {rss_mb():.1f} MB, {sizes(side)}",
                        flush=True,
                    )
                if snap1 is None and time.monotonic() - start > 60:
                    gc.collect()
                    snap1 = tracemalloc.take_snapshot()
                    n1 = n
                    print(f"snapshot 1 at {n} requests: {sizes(side)}", flush=True)
            gc.collect()
            snap2 = tracemalloc.take_snapshot()
            print(f"end at {n} requests ({n - n1} since snapshot 1): {sizes(side)}", flush=True)
            print(side.cache.stats.snapshot())
            print_growth(snap2, snap1)
    finally:
        await mongo.drop_database(ns)
        await mongo.close()


if __name__ == "__main__":
    asyncio.run(main())
