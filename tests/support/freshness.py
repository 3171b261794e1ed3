"""The staleness check shared by the integration and e2e tests: change a product's price in
the read model exactly as a projector does (write, then ``shared.invalidation.publish``) and
watch what readers are served."""

from __future__ import annotations

import asyncio
import time

import httpx

from shared.invalidation import Change, publish
from shared.read_models import CATALOG_PRODUCTS


async def change_price(mongo_db, redis, prefix: str, product: dict, amount: int, version: int) -> float:
    await mongo_db[CATALOG_PRODUCTS].update_one(
        {"_id": product["_id"]},
        {"$set": {"price": {"amount": amount, "currency": "EUR"}, "price_amount": amount, "version": version}},
    )
    await publish(redis, [Change(CATALOG_PRODUCTS, product["merchant_id"], (product["_id"],))], prefix)
    return time.monotonic()


async def served_price(client: httpx.AsyncClient, product: dict, listing: bool) -> int:
    if listing:
        body = (await client.get("/v1/products", params={"merchant": product["merchant_id"], "limit": 100})).json()
        return next(p["price"]["amount"] for p in body["data"] if p["id"] == product["_id"])
    response = await client.get(f"/v1/products/{product['_id']}")
    assert response.status_code == 200, response.text
    return response.json()["price"]["amount"]


async def price_changes_are_never_served_stale(
    client, mongo_db, redis, prefix: str, product: dict, changes: int = 10, bound: float = 1.0, pause: float = 0.0
) -> list[float]:
    """For each change: new price seen within ``bound`` seconds of the publish, and once seen,
    the old price never again (by id and in lists). Returns the observed delays."""
    delays = []
    for version in range(2, changes + 2):
        for listing in (False, True):  # warm both routes at the current price
            await served_price(client, product, listing)
        old = product["price_amount"]
        new = old + 100
        published_at = await change_price(mongo_db, redis, prefix, product, new, version)
        product["price_amount"] = new
        first_seen = None
        for _ in range(2000):
            await asyncio.sleep(pause)  # under the server's rate limit when it has one
            prices = await asyncio.gather(
                *(served_price(client, product, listing) for listing in (False, True, False, True))
            )
            if first_seen is None:
                if all(p == new for p in prices):
                    first_seen = time.monotonic()
                    delays.append(first_seen - published_at)
                else:
                    assert time.monotonic() - published_at < bound, f"old price {old} still served"
                    assert set(prices) <= {old, new}
                    continue
            assert all(p == new for p in prices), f"old price {old} served again after {new}"
            if time.monotonic() - first_seen > 0.3:
                break
    return delays
