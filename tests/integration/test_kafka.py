"""The Kafka adapter against a real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from shared.events import EventEnvelope
from shared.kafka import ensure_topics, ping, reliable_producer

pytestmark = pytest.mark.integration


async def test_broker_answers_metadata(settings):
    assert await ping(settings)


async def test_domain_topics_exist_with_six_partitions(settings):
    from aiokafka.admin import AIOKafkaAdminClient

    await ensure_topics(settings)  # idempotent: a second call creates nothing
    assert await ensure_topics(settings) == []
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        names = [settings.topic("products.events"), settings.topic("orders.events")]
        described = await admin.describe_topics(names)
    finally:
        await admin.close()
    assert {t["topic"]: len(t["partitions"]) for t in described} == dict.fromkeys(names, 6)


async def test_envelope_round_trip_keeps_key_headers_and_order(settings):
    topic = settings.topic(f"roundtrip.{uuid.uuid4().hex[:8]}")
    await ensure_topics(settings, topics=(topic,), partitions=3)
    aggregate_id = str(uuid.uuid4())
    sent = [
        EventEnvelope(
            type="ProductCreated",
            aggregate_type="product",
            aggregate_id=aggregate_id,
            aggregate_version=v,
            merchant_id="m1",
            correlation_id="c-1",
            data={"n": v},
        )
        for v in range(1, 6)
    ]
    producer = reliable_producer(settings)
    await producer.start()
    try:
        for envelope in sent:
            await producer.send_and_wait(
                topic, envelope.to_json(), key=envelope.kafka_key(), headers=envelope.kafka_headers()
            )
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=f"g-{uuid.uuid4().hex}",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        received = []
        while len(received) < len(sent):
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "no message arrived within 5 s"
            received += [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    assert [EventEnvelope.from_json(r.value) for r in received] == sent
    assert {r.key for r in received} == {aggregate_id.encode()}
    assert len({r.partition for r in received}) == 1  # one key, one partition: order kept
    assert dict(received[0].headers) == {"type": b"ProductCreated", "schema_version": b"1", "correlation_id": b"c-1"}


async def test_the_command_side_creates_the_domain_topics_when_it_starts(server_env, mongo_db):
    """A command API on a cluster without our topics (a fresh prefix) creates them at start,
    before any command: nothing it accepts can wait on a topic that does not exist."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient

    from shared.kafka import delete_topics_with_prefix
    from shared.settings import CommandApiSettings
    from shared.topics import DOMAIN_TOPICS

    from command_api.bootstrap import bootstrap

    values = {k.lower(): v for k, v in server_env.items()}
    fresh = f"fresh_{uuid.uuid4().hex[:10]}"
    settings = CommandApiSettings(**{**values, "kafka_topic_prefix": f"{fresh}.", "mongodb_database": fresh})
    # A database of its own too: its relay would otherwise publish the session's unpublished
    # commits to these topics (then deleted) and mark them published — lost to the session.
    db = mongo_db.client[fresh]
    wanted = {settings.topic(t) for t in DOMAIN_TOPICS}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        assert not wanted & set(await admin.list_topics())
        async with bootstrap(settings, db=db).running():
            for _ in range(100):
                if wanted <= set(await admin.list_topics()):
                    break
                await asyncio.sleep(0.1)
        assert wanted <= set(await admin.list_topics())
    finally:
        await admin.close()
        await delete_topics_with_prefix(settings)
        await mongo_db.client.drop_database(fresh)
