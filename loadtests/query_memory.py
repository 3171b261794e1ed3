"""What grows in the query API: a storefront-like loop against the app in process (its real
lifespan: MongoDB, Redis, the invalidation subscriber) on a namespace of its own, with
tracemalloc snapshots after the first minute and at the end, diffed by line and traceback.

    eval "$(merchant infra env)"; python -m loadtests.query_memory [SECONDS]   # default 180

One request at a time (no concurrency: it finds what is kept, not how fast); a mix of
product pages (Pareto popularity over 1,000 products of 5 merchants), category lists in
four sorts, next pages by cursor, categories, and 3 % price changes written and signalled
as a projector does. Prints the cache's sizes and counters and the top growth. Not a
benchmark; drops its database at the end.
"""

import asyncio
import contextlib
import gc
import os
import random
import sys
import time
import tracemalloc
import uuid

import httpx
from pymongo import AsyncMongoClient

from shared.invalidation import Change, publish
from shared.read_models import CATALOG_PRODUCTS
from shared.settings import QueryApiSettings

from merchant_testkit.read_models import product_doc
from query_api.entrypoints.bootstrap import side_of_scope


@contextlib.asynccontextmanager
async def running_query_api(settings):
    from query_api.entrypoints.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope, receive, send):
            scope["state"] = dict(state)
            await app(scope, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://query-api", timeout=30) as client:
            yield client, side_of_scope({"state": state})


DURATION = float(sys.argv[1]) if len(sys.argv) > 1 else 180


def sizes(side) -> str:
    cache = side.cache
    logs = sum(len(state.log or ()) for state in cache.epochs._tags.values())
    return (
        f"traced {tracemalloc.get_traced_memory()[0] / 1e6:.1f} MB, L1 {len(cache.l1)}, stale {len(cache.l1._stale)}, "
        f"tags {len(cache.epochs)}, precise changes logged {logs}, page tags {len(cache.l1._pages)}, "
        f"hot keys {len(cache.hot.counts)}"
    )


async def main():
    ns = f"memdrive_{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items()}
    settings = QueryApiSettings(
        mongodb_url=env["MONGODB_URL"],
        redis_url=env["REDIS_URL"],
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        mongodb_database=ns,
        kafka_topic_prefix=ns + ".",
        rate_limit_per_second=1e6,
        rate_limit_burst=10**6,
        rate_limit_auth_failures_per_second=1e6,
        rate_limit_auth_failures_burst=10**6,
        warm_up_queries=0,
    )
    mongo = AsyncMongoClient(env["MONGODB_URL"], tz_aware=True)
    db = mongo[ns]
    merchants = [f"m{i}" for i in range(5)]
    docs = [product_doc(m, i) for m in merchants for i in range(200)]
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
                    d = docs[min(int(rng.paretovariate(1.2)) - 1, len(docs) - 1)]
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
                    params, c = rng.choice(cursors)
                    await client.get("/v1/products", params={**params, "cursor": c})
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
                if snap1 is None and time.monotonic() - start > 60:
                    gc.collect()
                    snap1 = tracemalloc.take_snapshot()
                    n1 = n
                    print(f"snapshot 1 at {n} requests: {sizes(side)}", flush=True)
            gc.collect()
            snap2 = tracemalloc.take_snapshot()
            print(f"end at {n} requests ({n - n1} since snapshot 1): {sizes(side)}", flush=True)
            print(side.cache.stats.snapshot())
            for stat in snap2.compare_to(snap1, "lineno")[:25]:
                print(stat)
            print("--- by traceback (top 5)")
            for stat in snap2.compare_to(snap1, "traceback")[:5]:
                print(stat)
                for line in stat.traceback.format()[-12:]:
                    print("   ", line)
    finally:
        await mongo.drop_database(ns)
        await mongo.close()


if __name__ == "__main__":
    asyncio.run(main())
