"""Concurrent writers: stock is never oversold, an Idempotency-Key acts once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import pytest

from shared.events import EventEnvelope

from tests.e2e.commands import auth, create_product, load_product, order_body, post_until_answered, product_body
from tests.support.kafka_events import read_topic

pytestmark = pytest.mark.e2e


async def test_100_concurrent_single_unit_orders_against_stock_10(command_client, merchant, mongo_db, settings):
    product = await create_product(command_client, merchant, stock=10)
    body = order_body((product, 1))
    responses = await asyncio.gather(
        *(
            post_until_answered(
                command_client, "/v1/orders", json=body, headers=auth(merchant["publishable_key"]), timeout=60
            )
            for _ in range(100)
        )
    )

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {202: 10, 409: 90}, statuses
    refusals = [r.json()["error"] for r in responses if r.status_code == 409]
    assert {e["code"] for e in refusals} == {"insufficient_stock"}
    assert all("Insufficient stock" in e["message"] and e["available"] == 0 for e in refusals)
    assert (await load_product(mongo_db, product, merchant["merchant_id"])).stock == 0

    accepted = {r.json()["id"] for r in responses if r.status_code == 202}
    commits = mongo_db["commits"]
    assert await commits.count_documents({"aggregate_id": {"$in": list(accepted)}}) == 10
    product_types = Counter([e["type"] async for c in commits.find({"aggregate_id": product}) for e in c["events"]])
    assert product_types == {"ProductCreated": 1, "StockReserved": 10}

    # And Kafka carries exactly those events.
    orders = await read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("orders.events"),
        lambda rs: {r.key.decode() for r in rs} >= accepted,
    )
    placed = {
        e.event_id: e for e in (EventEnvelope.from_json(r.value) for r in orders) if e.aggregate_id in accepted
    }  # distinct events: publication is at-least-once
    assert sorted(e.aggregate_id for e in placed.values()) == sorted(accepted)
    products = await read_topic(
        settings.kafka_bootstrap_servers,
        settings.topic("products.events"),
        lambda rs: sum(r.key == product.encode() for r in rs) >= 11,
    )
    # Publication is at-least-once: a relay pass racing a slow publish may put an event on
    # Kafka twice (consumers apply by version). Every stored event arrives, and no other.
    distinct = {
        e.event_id: e for e in (EventEnvelope.from_json(r.value) for r in products if r.key == product.encode())
    }
    assert Counter(e.type for e in distinct.values()) == product_types


async def test_the_same_idempotency_key_ten_times_concurrently_commits_once(command_client, merchant, mongo_db):
    key = uuid.uuid4().hex
    body = product_body()
    responses = await asyncio.gather(
        *(
            command_client.post(
                "/v1/products", json=body, headers=auth(merchant["secret_key"], **{"Idempotency-Key": key})
            )
            for _ in range(10)
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.content for r in responses}) == 1  # ten identical bodies
    assert len({r.headers["location"] for r in responses}) == 1
    product_id = responses[0].json()["id"]
    assert await mongo_db["commits"].count_documents({"aggregate_id": product_id}) == 1
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in responses) == 9


async def test_the_same_idempotency_key_on_orders_places_one_order(command_client, merchant, mongo_db):
    product = await create_product(command_client, merchant, stock=3)
    key = uuid.uuid4().hex
    responses = await asyncio.gather(
        *(
            command_client.post(
                "/v1/orders",
                json=order_body((product, 2)),
                headers=auth(merchant["publishable_key"], **{"Idempotency-Key": key}),
            )
            for _ in range(10)
        )
    )
    assert {r.status_code for r in responses} == {202}
    assert len({r.content for r in responses}) == 1
    assert (await load_product(mongo_db, product, merchant["merchant_id"])).stock == 1


async def test_a_stored_refusal_is_replayed_even_once_the_command_would_succeed(command_client, merchant):
    product = await create_product(command_client, merchant, stock=1)
    key = auth(merchant["publishable_key"], **{"Idempotency-Key": uuid.uuid4().hex})
    refused = await command_client.post("/v1/orders", json=order_body((product, 3)), headers=key)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "insufficient_stock"
    restock = await command_client.post(
        f"/v1/products/{product}/stock", json={"delta": 10, "reason": "delivery"}, headers=auth(merchant["secret_key"])
    )
    assert restock.status_code == 202
    again = await command_client.post("/v1/orders", json=order_body((product, 3)), headers=key)
    assert (again.status_code, again.json()) == (409, refused.json())
    assert again.headers["idempotent-replayed"] == "true"
    other = await command_client.post("/v1/orders", json=order_body((product, 1)), headers=key)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"
