"""What grows in the command API: a checkout-heavy loop against the app in process (its real
lifespan: MongoDB event store, Kafka publisher, relay, expirer) on a namespace of its own,
with tracemalloc snapshots after the warm-up and every interval, diffed by line.

    eval "$(merchant infra env)"; python -m loadtests.command_memory [SECONDS] [KEY=VALUE ...]

``KEY=VALUE``: ``CommandApiSettings`` overrides (e.g. ``aggregate_cache_size=10000``), so
two bounds can run side by side on one machine. One request at a time (it finds what is
kept, not how fast), a mix heavier in writes than the load runs: 50 % checkouts (a tenth
retried with the same Idempotency-Key), 15 % price changes, 10 % stock adjustments, 20 %
pay / confirm / cancel / ship of an earlier order, 5 % refused commands (a bad key, an
unknown product). Prints RSS, traced memory and the aggregate cache's size per 1,000
requests, and the top growth. Not a benchmark; drops its database at the end.
"""

import asyncio
import gc
import os
import random
import sys
import time
import tracemalloc
import uuid

import httpx
from pymongo import AsyncMongoClient

from shared.settings import CommandApiSettings

from loadtests.memory_probe import own_namespace, print_growth, rss_mb
from merchant_testkit.in_process import running_app

WARM_UP = float(os.environ.get("MEMORY_WARM_UP", 60))
REPORT_EVERY = 1000


def _overrides(args: list[str]) -> dict[str, str]:
    return dict(arg.split("=", 1) for arg in args)


async def main() -> None:
    from command_api.entrypoints.app import create_app

    duration = float(sys.argv[1]) if len(sys.argv) > 1 else 300
    ns = f"cmdmem_{uuid.uuid4().hex[:8]}"
    settings = CommandApiSettings(
        **own_namespace(ns, rate_limit_orders_per_second=1e6, rate_limit_orders_burst=10**6, **_overrides(sys.argv[2:]))
    )
    mongo = AsyncMongoClient(os.environ["MONGODB_URL"])
    try:
        async with running_app(create_app(settings), "http://command-api") as (client, state):
            await drive(client, state["command_side"], random.Random(1), duration)
    finally:
        await mongo.drop_database(ns)
        await mongo.close()


async def drive(client: httpx.AsyncClient, side, rng: random.Random, duration: float) -> None:
    merchants = []
    for i in range(5):
        m = await side.merchants.create(f"Memory shop {i}")
        ids = []
        for j in range(100):
            r = await client.post(
                "/v1/products",
                json={
                    "sku": f"SKU-{j}",
                    "name": f"Product {j}",
                    "category": f"cat-{j % 7}",
                    "price": {"amount": 1000 + j, "currency": "EUR"},
                    "stock": 1_000_000,
                },
                headers={"Authorization": f"Bearer {m.secret_key}", "Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 202, r.text
            ids.append(r.json()["id"])
        merchants.append((m, ids))
    orders: list[tuple] = []
    statuses: dict[int, int] = {}

    async def post(path: str, body: dict, key: str, idem: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", "Idempotency-Key": idem or uuid.uuid4().hex}
        r = await client.post(path, json=body, headers=headers)
        statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
        return r

    tracemalloc.start(10)
    start = time.monotonic()
    first = None
    n = 0
    print("requests,seconds,rss_mb,traced_mb,aggregates_cached,orders_made,statuses", flush=True)
    while time.monotonic() - start < duration:
        m, ids = rng.choice(merchants)
        r = rng.random()
        if r < 0.5:
            body = {
                "items": [{"product_id": p, "quantity": rng.randint(1, 2)} for p in rng.sample(ids, rng.randint(1, 3))],
                "customer": {"email": f"buyer{rng.randint(1, 10**6)}@example.com", "name": "Memory Buyer"},
                "shipping_address": {
                    "name": "Memory Buyer",
                    "line1": "1 Test Street",
                    "city": "Berlin",
                    "postal_code": "10115",
                    "country": "DE",
                },
            }
            idem = uuid.uuid4().hex
            resp = await post("/v1/orders", body, m.publishable_key, idem)
            if resp.status_code == 202:
                orders.append((m, resp.json()["id"]))
                orders = orders[-500:]
                if rng.random() < 0.1:
                    await post("/v1/orders", body, m.publishable_key, idem)
        elif r < 0.65:
            await post(
                f"/v1/products/{rng.choice(ids)}/price",
                {"price": {"amount": rng.randint(500, 20000), "currency": "EUR"}},
                m.secret_key,
            )
        elif r < 0.75:
            await post(
                f"/v1/products/{rng.choice(ids)}/stock",
                {"delta": rng.choice((5, 10)), "reason": "restock"},
                m.secret_key,
            )
        elif r < 0.95 and orders:
            om, order_id = orders.pop(rng.randrange(len(orders)))
            step = rng.random()
            if step < 0.6:
                await post(f"/v1/orders/{order_id}/pay", {"payment_reference": uuid.uuid4().hex}, om.secret_key)
            elif step < 0.8:
                await post(f"/v1/orders/{order_id}/cancel", {"reason": "changed mind"}, om.secret_key)
            else:
                await post(f"/v1/orders/{order_id}/confirm", {}, om.secret_key)
        else:
            if rng.random() < 0.5:
                await post(
                    f"/v1/products/{uuid.uuid4().hex}/price", {"price": {"amount": 1, "currency": "EUR"}}, m.secret_key
                )
            else:
                await post(
                    f"/v1/products/{rng.choice(ids)}/price", {"price": {"amount": 1, "currency": "EUR"}}, f"sk_bad_{n}"
                )
        n += 1
        elapsed = time.monotonic() - start
        if first is None and elapsed > WARM_UP:
            gc.collect()
            first = tracemalloc.take_snapshot()
            n_first = n
        if n % REPORT_EVERY == 0:
            traced = tracemalloc.get_traced_memory()[0] / 1e6
            cached = len(side.repository._recent)
            print(
                f"{n},{elapsed:.0f},{rss_mb():.1f},{traced:.1f},{cached},{len(orders)},{dict(sorted(statuses.items()))}",
                flush=True,
            )
    gc.collect()
    last = tracemalloc.take_snapshot()
    grown = sum(stat.size_diff for stat in last.compare_to(first, "filename")) / 1e6
    print(f"end: {n} requests, {n - n_first} since the warm-up snapshot, traced +{grown:.2f} MB; RSS {rss_mb():.1f} MB")
    print_growth(last, first)


if __name__ == "__main__":
    asyncio.run(main())
