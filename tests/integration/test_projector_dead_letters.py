"""Malformed and unknown events go to the dead-letter topic; gaps are filled from the
event store; caches are told what changed."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from shared.events import EventEnvelope
from shared.invalidation import generation_key
from shared.kafka import reliable_producer
from shared.redis import open_redis

from merchant_testkit.event_stream import produce, store
from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.waiting import wait_until
from tests.support.processes import stream_service

pytestmark = pytest.mark.integration
# These read their whole topics and database: a namespace of their own keeps other
# modules' events (some deliberately malformed) out of what they compare and count.
server_env, settings, mongo_db = own_namespace_fixtures()


def product_event(type_: str, version: int, data: dict, product: str, merchant: str) -> EventEnvelope:
    return EventEnvelope(
        type=type_,
        aggregate_type="product",
        aggregate_id=product,
        aggregate_version=version,
        merchant_id=merchant,
        correlation_id="c",
        data=data,
    )


async def wait_for(probe):
    """The probe's first truthy answer (a projector process on a shared CI machine: 60 s)."""
    return await wait_until(probe, bool, timeout=60.0, interval=0.2, what="projection")


async def test_dead_letters_gap_fill_and_invalidation(settings, mongo_db, server_env, tmp_path):
    merchant, product = f"m_{uuid.uuid4().hex[:8]}", f"p_{uuid.uuid4().hex[:8]}"
    created = product_event(
        "ProductCreated",
        1,
        {"sku": "S", "name": "Cap", "category": "hats", "price": {"amount": 500, "currency": "EUR"}, "stock": 3},
        product,
        merchant,
    )
    repriced = product_event(
        "ProductPriceChanged",
        2,
        {"price": {"amount": 450, "currency": "EUR"}, "previous_price": {"amount": 500, "currency": "EUR"}},
        product,
        merchant,
    )
    unknown = product_event("ProductTeleported", 1, {}, f"p_{uuid.uuid4().hex[:8]}", merchant)
    await store(mongo_db, [created, repriced])
    redis = open_redis(settings)
    generation = settings.kafka_topic_prefix + generation_key("catalog_products", merchant)
    producer = reliable_producer(settings)
    await producer.start()
    service = stream_service("projector", "projectors", {**server_env, "PROJECTOR_GROUP_ID": "dlq"}, tmp_path).start()
    try:
        # v2 arrives alone (v1 was never published): the projector fetches v1 from the store.
        await produce(producer, settings, [repriced, unknown])
        await producer.send_and_wait(settings.topic("products.events"), b"{not json", key=b"x")
        doc = await wait_for(lambda: mongo_db["catalog_products"].find_one({"_id": product, "version": 2}))
        assert doc["price_amount"] == 450 and doc["sku"] == "S"
        counters = await wait_for(
            lambda: mongo_db["projection_counters"].find_one({"_id": "products", "dead_lettered": 2})
        )
        assert counters["dead_lettered"] == 2
        # Invalidation is published after the whole batch (derived views included), so
        # it may land a moment after the document is visible.
        assert int(await wait_for(lambda: redis.get(generation))) >= 1

        consumer = AIOKafkaConsumer(
            settings.topic("products.events.dlq"),
            bootstrap_servers=settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=5000)
            reasons = sorted(dict(r.headers)["reason"].decode() for rs in batches.values() for r in rs)
        finally:
            await consumer.stop()
        assert len(reasons) == 2
        assert reasons[0].startswith("malformed envelope") and "unknown event type" in reasons[1]
    finally:
        service.stop()
        await producer.stop()
        await redis.aclose()
