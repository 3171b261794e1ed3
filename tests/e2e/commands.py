"""Small helpers for driving the command API in e2e tests."""

from __future__ import annotations

import asyncio
import uuid

from shared.events import EventEnvelope

from command_api.adapters.event_store import EventStore
from command_api.application.repository import Repository
from command_api.domain.order import Order
from command_api.domain.product import Product


def auth(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def product_body(**overrides) -> dict:
    body = {
        "sku": f"SKU-{uuid.uuid4().hex[:8]}",
        "name": "Walking Boots",
        "category": "shoes",
        "price": {"amount": 8999, "currency": "EUR"},
        "stock": 12,
    }
    body.update(overrides)
    return body


def order_body(*items: tuple[str, int], **overrides) -> dict:
    body = {
        "items": [{"product_id": p, "quantity": q} for p, q in items],
        "customer": {"email": "ada@example.com", "phone": "+33 1 23 45 67 89"},
        "shipping_address": {
            "name": "Ada",
            "line1": "1 Rue de la Paix",
            "city": "Paris",
            "postal_code": "75002",
            "country": "FR",
        },
    }
    body.update(overrides)
    return body


async def create_product(client, merchant: dict, **overrides) -> str:
    response = await client.post("/v1/products", json=product_body(**overrides), headers=auth(merchant["secret_key"]))
    assert response.status_code == 202, response.text
    return response.json()["id"]


def _reader(mongo_db) -> Repository:
    """Reads aggregates as stored (a repository with no publisher, used for loads only)."""
    return Repository(EventStore(mongo_db), None)


async def load_product(mongo_db, product_id: str, merchant_id: str) -> Product:
    product = await _reader(mongo_db).load(Product, product_id, merchant_id)
    assert product is not None
    return product


async def load_order(mongo_db, order_id: str, merchant_id: str) -> Order | None:
    return await _reader(mongo_db).load(Order, order_id, merchant_id)


async def stored_events(mongo_db, aggregate_id: str) -> list[EventEnvelope]:
    return await EventStore(mongo_db).load(aggregate_id)


GIVE_UP_AFTER = 30.0  # seconds of 503s: well inside the test's 60 s, far beyond a burst


async def post_until_answered(client, path: str, *, give_up_after: float = GIVE_UP_AFTER, **kwargs):
    """POST as a well-behaved client does: a ``503 overloaded`` (the command API sheds load
    beyond its in-flight limit, docs/api.md) was not acted on, so it is sent again — for
    ``give_up_after`` seconds at most, then the test fails (an API that keeps refusing is
    a failure, not a hang until the suite's timeout)."""
    deadline = asyncio.get_running_loop().time() + give_up_after
    while True:
        response = await client.post(path, **kwargs)
        if response.status_code != 503 or response.json()["error"]["code"] != "overloaded":
            return response
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"POST {path}: still 503 overloaded after {give_up_after:g} s of retries")
        await asyncio.sleep(0.05)
