"""Command paths (create a product, adjust stock, place an order) vs a bare Starlette
endpoint that reads a JSON body and answers 202: what the write path (authentication,
validation, event store, Kafka) costs beyond HTTP and JSON. Each command is its own pair,
so its baseline rounds run right beside its own rounds."""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import orjson

from loadtests.bench.clients import Request, http
from loadtests.bench.rounds import Pair, Side, closed_loop

STOCKED_PRODUCTS = 64
ROUTES = {
    "create product": "POST /v1/products",
    "adjust stock": "POST /v1/products/{id}/stock",
    "place order (1 line)": "POST /v1/orders",
}
ADDRESS = {"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"}


def requests(secret: str, publishable: str, products: list[str]) -> dict[str, Callable[[], Request]]:
    """The commands, each a fresh request per call (new SKU, random stocked product)."""
    sk = {"Authorization": f"Bearer {secret}"}
    pk = {"Authorization": f"Bearer {publishable}"}

    def create() -> Request:
        return (
            "POST",
            "/v1/products",
            orjson.dumps(
                {
                    "sku": uuid.uuid4().hex[:16],
                    "name": "Bench",
                    "category": "bench",
                    "price": {"amount": 1000, "currency": "EUR"},
                    "stock": 5,
                }
            ),
            sk,
        )

    def adjust_stock() -> Request:
        return (
            "POST",
            f"/v1/products/{random.choice(products)}/stock",
            orjson.dumps({"delta": 1, "reason": "bench"}),
            sk,
        )

    def place_order() -> Request:
        return (
            "POST",
            "/v1/orders",
            orjson.dumps(
                {
                    "items": [{"product_id": random.choice(products), "quantity": 1}],
                    "customer": {"email": "bench@example.com"},
                    "shipping_address": ADDRESS,
                }
            ),
            pk,
        )

    return dict(zip(ROUTES, (create, adjust_stock, place_order), strict=True))


def bare_request() -> Request:
    return ("POST", "/v1/accept", b'{"sku":"x","n":1}', {})


async def stocked_products(api_url: str, secret: str) -> list[str]:
    async with httpx.AsyncClient(base_url=api_url, timeout=60) as client:
        created = []
        for _ in range(STOCKED_PRODUCTS):
            response = await client.post(
                "/v1/products",
                headers={"Authorization": f"Bearer {secret}"},
                json={
                    "sku": uuid.uuid4().hex[:12],
                    "name": "Stocked",
                    "category": "bench",
                    "price": {"amount": 500, "currency": "EUR"},
                    "stock": 1_000_000,
                },
            )
            response.raise_for_status()
            created.append(response.json()["id"])
        return created


@asynccontextmanager
async def pairs(bench, options) -> AsyncIterator[list[Pair]]:
    from command_api.bootstrap import bootstrap  # the write side, only here

    await bench.ensure_topics()
    side = bootstrap(db=bench.db)
    await side.prepare()
    merchant = await side.merchants.create("Bench Shop")
    api = bench.serve("command-api", "command API")
    bare = bench.uvicorn("loadtests.bare_starlette:create_app", "bare Starlette (accept)")
    products = await stocked_products(api.url, merchant.secret_key)

    def loop(url: str, make: Callable[[], Request]):
        return closed_loop(http(url, make, 202), options.seconds, options.concurrency, bench.zero)

    commands = requests(merchant.secret_key, merchant.publishable_key, products)
    yield [
        Pair(
            name,
            "commands",
            "accepted/s",
            Side(f"command API {ROUTES[name]}", loop(api.url, make)),
            Side("bare Starlette POST, reads JSON, 202", loop(bare.url, bare_request)),
        )
        for name, make in commands.items()
    ]
    bench.stop(api)
    bench.stop(bare)
