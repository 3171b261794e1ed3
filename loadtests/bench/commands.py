"""Command paths (create a product, adjust stock, place an order) beside their floor: a
raw pymongo ``insert_one`` loop of the same commit document, into a collection with the
same indexes as ``commits``, on the same server (``loadtests.raw_insert``) — one insert is
what a command can at best cost. Each command is two pairs, at ``--concurrency`` clients
and at one client (no batching timer: a lone command should cost one round trip).

Every measured command carries an ``Idempotency-Key``; orders and stock changes go to 64
stocked products. For our side each round also counts the work: the command API's MongoDB
operations (relay included: it runs in that process) and CPU seconds, from its
``/metrics`` and psutil (``loadtests.ops``), reported per accepted command. Both sides'
rounds also read the CPU of every process the machine spends on them — the command API,
FerretDB, PostgreSQL, Kafka, this process — and the machine's (``loadtests.bench.budget``).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import orjson

from loadtests.bench import budget
from loadtests.bench.clients import Request, http, shared_client
from loadtests.bench.rounds import Pair, Side, closed_loop
from loadtests.raw_insert import commit_template, insert_loop, prepared

STOCKED_PRODUCTS = 64
ROUTES = {
    "create product": "POST /v1/products",
    "adjust stock": "POST /v1/products/{id}/stock",
    "place order (1 line)": "POST /v1/orders",
}
# How the budget table (``loadtests.bench.budget``) names this group's processes.
BUDGET = budget.Subject("commands", "command", "op", "command API (+ relay)", "client / raw loop")
ADDRESS = {"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"}


def requests(secret: str, publishable: str, products: list[str]) -> dict[str, Callable[[], Request]]:
    """The commands, each a fresh request per call (new key, new SKU, random stocked product)."""

    def sk() -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}", "Idempotency-Key": uuid.uuid4().hex}

    def create() -> Request:
        body = {
            "sku": uuid.uuid4().hex[:16],
            "name": "Bench",
            "category": "bench",
            "price": {"amount": 1000, "currency": "EUR"},
            "stock": 5,
        }
        return ("POST", "/v1/products", orjson.dumps(body), sk())

    def adjust_stock() -> Request:
        body = orjson.dumps({"delta": 1, "reason": "bench"})
        return ("POST", f"/v1/products/{random.choice(products)}/stock", body, sk())

    def place_order() -> Request:
        body = {
            "items": [{"product_id": random.choice(products), "quantity": 1}],
            "customer": {"email": "bench@example.com"},
            "shipping_address": ADDRESS,
        }
        headers = {"Authorization": f"Bearer {publishable}", "Idempotency-Key": uuid.uuid4().hex}
        return ("POST", "/v1/orders", orjson.dumps(body), headers)

    return dict(zip(ROUTES, (create, adjust_stock, place_order), strict=True))


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
    products = await stocked_products(api.url, merchant.secret_key)
    meter = budget.meter(api.process.pid, bench.env, f"{api.ops_url}/metrics")
    raw = await prepared(bench.db["raw_commits"])
    outbox = bench.db["outbox"]

    async def settled() -> None:
        """Until the round's commits are marked published — their outbox entries deleted
        (their marks count in it) —, 5 s at most."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and await outbox.find_one({}, {"_id": 1}):
            await asyncio.sleep(0.05)

    commands = requests(merchant.secret_key, merchant.publishable_key, products)
    made = []
    for clients in dict.fromkeys((options.concurrency, 1)):
        suffix = "" if clients == options.concurrency else ", 1 client"
        for name, make in commands.items():
            ours = closed_loop(http(api.url, make, 202), options.seconds, clients, bench.zero)
            floor = closed_loop(
                shared_client(insert_loop(raw, commit_template(name))), options.seconds, clients, bench.zero
            )
            made.append(
                Pair(
                    name + suffix,
                    "commands",
                    "accepted/s",
                    Side(f"command API {ROUTES[name]}", budget.metered(ours, meter, settled, counts=True)),
                    Side(
                        f"raw insert_one of its commit ({clients} client{'s' if clients > 1 else ''})",
                        budget.metered(floor, meter),
                    ),
                )
            )
    yield made
    bench.stop(api)
