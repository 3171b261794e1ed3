"""A topic holding ProductCreated v1, v2 — and one v3 from the future — replayed from
offset 0 by the real projector process, exported from the store and tailed: v1 and v2
are treated alike everywhere, and the unknown version is set aside without a crash."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaProducer

from shared import mongo
from shared.event_store_reader import ReadReport, read_events
from shared.events import EventEnvelope
from shared.kafka import delete_topics_with_prefix, ensure_topics
from shared.topics import PRODUCTS

from command_api.application.ports import Commit
from merchant_testkit import start_stack, wait_until

pytestmark = pytest.mark.integration

BODY = {
    "name": "Trail Boots",
    "category": "shoes",
    "price": {"amount": 8999, "currency": "EUR"},
    "stock": 12,
    "description": "",
    "attributes": {"colour": "green"},
    "status": "published",
}


def created(product_id: str, version: int, merchant_id: str = "m-replay", **extra) -> EventEnvelope:
    data = {**BODY, "sku": f"SKU-{product_id}", **extra}
    return EventEnvelope(
        type="ProductCreated",
        schema_version=version,
        aggregate_type="product",
        aggregate_id=product_id,
        aggregate_version=1,
        merchant_id=merchant_id,
        correlation_id=f"c-{product_id}",
        data=data,
    )


# In topic order: an old producer's v1, today's v2, a future producer's v3, then more.
EVENTS = [
    created("p-v1", 1),
    created("p-v2", 2, tags=[]),
    created("p-v2-tagged", 2, tags=["eco"]),
    created("p-v3", 3, tags=[], colourway="olive"),
    created("p-after", 1, merchant_id="m-other"),
]


@pytest.fixture(scope="module")
async def replayed(server_env, settings, tmp_path_factory):
    """The events on fresh topics and in a fresh store; a projector replays them from 0."""
    replay = settings.model_copy(
        update={
            "kafka_topic_prefix": f"{settings.kafka_topic_prefix}replay.",
            "mongodb_database": f"{settings.mongodb_database}_replay",
        }
    )
    await ensure_topics(replay)
    producer = AIOKafkaProducer(bootstrap_servers=replay.kafka_bootstrap_servers, acks="all")
    await producer.start()
    for event in EVENTS:  # one partition: the order above is the replay order
        await producer.send_and_wait(
            replay.topic(PRODUCTS), event.to_json(), key=b"replay", headers=event.kafka_headers(), partition=0
        )
    await producer.stop()
    client = mongo.open_mongo(replay)
    db = mongo.database(client, replay)
    await db["commits"].insert_many(
        [Commit("product", e.aggregate_id, e.merchant_id, f"cmd-{e.aggregate_id}", [e]).to_document() for e in EVENTS]
    )
    env = {**server_env, "KAFKA_TOPIC_PREFIX": replay.kafka_topic_prefix, "MONGODB_DATABASE": replay.mongodb_database}
    stack = start_stack(("projectors",), env, tmp_path_factory.mktemp("replay-logs"))
    try:
        yield {"db": db, "env": env, "stack": stack}
    finally:
        stack.stop()
        await client.drop_database(replay.mongodb_database)
        await client.close()
        await delete_topics_with_prefix(replay)


def without_identity(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in ("_id", "sku", "created_at", "updated_at", "merchant_id")}


async def test_projector_reads_v1_as_v2_and_sets_the_future_aside(replayed):
    products = replayed["db"]["catalog_products"]

    async def projected():
        return {doc["_id"]: doc async for doc in products.find({})}

    docs = await wait_until(
        projected, lambda found: "p-after" in found, timeout=30, what="the event after the unsupported one projected"
    )
    assert without_identity(docs["p-v1"]) == without_identity(docs["p-v2"])
    assert docs["p-v1"]["tags"] == [] and docs["p-v2-tagged"]["tags"] == ["eco"]
    assert "p-v3" not in docs  # an unknown version is never guessed at
    assert replayed["stack"].projectors.process.poll() is None, "the projector must not crash"


async def test_export_reads_v1_as_v2_and_reports_the_future(replayed):
    report = ReadReport()
    exported = {e.aggregate_id: e async for batch in read_events(replayed["db"], report=report) for e in batch}
    assert {e.schema_version for e in exported.values()} == {2}
    assert exported["p-v1"].data == {**exported["p-v2"].data, "sku": "SKU-p-v1"}
    assert "p-v3" not in exported and len(report.unreadable) == 1
    assert "schema_version 3 is not supported" in report.unreadable[0]


def test_tail_shows_upcast_events_filtered_by_merchant(replayed):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "merchant_cli.main",
            "events",
            "tail",
            "--from-beginning",
            "--json",
            "--type",
            "ProductCreated",
            "--merchant",
            "m-replay",
            "--idle-exit",
            "3",
        ],
        env={**os.environ, **replayed["env"]},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    shown = [EventEnvelope.from_json(line) for line in done.stdout.splitlines()]
    assert [e.aggregate_id for e in shown] == ["p-v1", "p-v2", "p-v2-tagged"]  # not m-other's
    assert {e.schema_version for e in shown} == {2}
    assert "unreadable message" in done.stderr and "schema_version 3" in done.stderr
