"""The load's data: merchants with keys, their published products and categories.

Either read from ``merchant seed --out seed.json`` or, for a quick start, made here
through the real paths: merchants in the database (as ``merchant merchants create``
does), products through the command API over HTTP. The load file format is
``{"merchants": [{merchant_id, secret_key, publishable_key, currency, categories,
product_ids}]}``.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from pathlib import Path

import httpx

CATEGORIES = ("apparel", "shoes", "books", "garden", "kitchen", "toys", "sports", "beauty", "tools", "music")


def load(path: Path) -> dict:
    """The seed JSON in the load's format. ``merchant seed --out`` files name per merchant
    its keys, currency and up to 50 product ids planned to be published; categories are
    then read from the query API (``categories_from``) once the data is projected."""
    raw = json.loads(path.read_text())
    merchants = []
    for m in raw["merchants"]:
        listed = m.get("products") if isinstance(m.get("products"), list) else []
        products = m.get("product_ids") or [p["id"] if isinstance(p, dict) else p for p in listed]
        categories = m.get("categories") or sorted(
            {p["category"] for p in listed if isinstance(p, dict) and "category" in p}
        )
        merchants.append(
            {
                "merchant_id": m["merchant_id"],
                "secret_key": m["secret_key"],
                "publishable_key": m["publishable_key"],
                "currency": m.get("currency", "EUR"),
                "categories": categories,
                "product_ids": products,
            }
        )
    return {"merchants": merchants}


async def categories_from(query_url: str, data: dict) -> None:
    """Fill in each merchant's categories from ``/v1/categories?merchant=``."""
    async with httpx.AsyncClient(base_url=query_url, timeout=30) as client:
        for m in data["merchants"]:
            if not m["categories"]:
                body = (await client.get("/v1/categories", params={"merchant": m["merchant_id"]})).json()
                m["categories"] = [c["category"] for c in body["data"]] or list(CATEGORIES)


async def _create_merchants(settings, count: int) -> list[dict]:
    from shared.settings import CommandApiSettings

    from command_api.bootstrap import bootstrap

    side = bootstrap(CommandApiSettings(**dict(settings)))
    try:
        await side.prepare()
        out = []
        for n in range(count):
            created = await side.merchants.create(f"Load Shop {n + 1} {uuid.uuid4().hex[:4]}")
            out.append(
                {
                    "merchant_id": created.merchant_id,
                    "secret_key": created.secret_key,
                    "publishable_key": created.publishable_key,
                    "currency": "EUR",
                    "categories": random.sample(CATEGORIES, 4),
                    "product_ids": [],
                }
            )
        return out
    finally:
        await side.close()


async def _create_products(command_url: str, merchants: list[dict], per_merchant: int, concurrency: int = 8) -> None:
    queue: asyncio.Queue = asyncio.Queue()
    for m in merchants:
        for n in range(per_merchant):
            queue.put_nowait((m, n))

    async def work(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            m, n = queue.get_nowait()
            body = {
                "sku": f"LOAD-{n:05d}",
                "name": f"{random.choice(('Blue', 'Red', 'Classic', 'Eco'))} item {n}",
                "category": random.choice(m["categories"]),
                "price": {"amount": random.randint(500, 20000), "currency": m["currency"]},
                "stock": 1_000_000,
                "description": "Seeded for the load tests.",
            }
            for _ in range(5):  # a 409 contended / 503 under a busy machine: retry, same key
                r = await client.post(
                    "/v1/products",
                    json=body,
                    headers={
                        "Authorization": f"Bearer {m['secret_key']}",
                        "Idempotency-Key": f"seed-{m['merchant_id']}-{n}",
                    },
                )
                if r.status_code == 202:
                    m["product_ids"].append(r.json()["id"])
                    break
                await asyncio.sleep(0.5)
            else:
                raise RuntimeError(f"could not create product {n}: {r.status_code} {r.text}")

    async with httpx.AsyncClient(base_url=command_url, timeout=60) as client:
        await asyncio.gather(*(work(client) for _ in range(concurrency)))


async def seed(settings, command_url: str, merchants: int, products: int) -> dict:
    made = await _create_merchants(settings, merchants)
    await _create_products(command_url, made, max(1, products // merchants))
    return {"merchants": made}


async def wait_visible(query_url: str, data: dict, timeout: float = 300) -> None:
    """Until the last product of each merchant is on the storefront (projected); a product
    that stays a draft is dropped from the load after the timeout instead of failing."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    async with httpx.AsyncClient(base_url=query_url, timeout=10) as client:
        for m in data["merchants"]:
            for product_id in m["product_ids"][-1:]:
                while (await client.get(f"/v1/products/{product_id}")).status_code != 200:
                    if loop.time() > deadline:
                        raise TimeoutError(f"product {product_id} not projected after {timeout:.0f} s")
                    await asyncio.sleep(0.5)
        for m in data["merchants"]:  # drafts of a seeded catalogue are not on the storefront
            visible = []
            for product_id in m["product_ids"]:
                if (await client.get(f"/v1/products/{product_id}")).status_code == 200:
                    visible.append(product_id)
            m["product_ids"] = visible


async def warm_cache(query_url: str, data: dict, concurrency: int = 16) -> int:
    """Read every product page and the first page of every (category, sort) list once, so
    the run measures a shop in service (warm caches), not a cold start. Returns requests."""
    from loadtests.scenarios import SORTS

    paths = [f"/v1/products/{p}" for m in data["merchants"] for p in m["product_ids"]]
    categories = sorted({c for m in data["merchants"] for c in m["categories"]})
    paths += [f"/v1/products?category={c}&sort={s}&limit=20" for c in categories for s in SORTS]
    paths.append("/v1/categories")
    queue: asyncio.Queue = asyncio.Queue()
    for path in paths:
        queue.put_nowait(path)

    async def work(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            await client.get(queue.get_nowait())

    async with httpx.AsyncClient(base_url=query_url, timeout=60) as client:
        await asyncio.gather(*(work(client) for _ in range(concurrency)))
    return len(paths)
