"""An event the orders projector cannot apply parks its aggregate; every other aggregate
flows — on the real servers (#18). Before: the event was dead-lettered and the aggregate's
version moved past it, so its later events were applied to a state that never had it.

A legacy (or buggy) producer sends an ``OrderPlaced`` whose total no BSON int64 can hold
straight to the orders topic (the command side refuses such totals), in the batch of
another merchant's valid order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from shared.events import EventEnvelope
from shared.kafka import reliable_producer

from merchant_testkit.event_stream import commit_document, produce, store
from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.waiting import wait_until
from tests.support.processes import stream_service

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()  # its own topics: the DLQ counted is ours


def order_event(order: str, version: int, merchant: str, type_: str = "OrderPlaced", total: int = 500) -> EventEnvelope:
    data: dict = {}
    if type_ == "OrderPlaced":
        line = {
            "product_id": "p",
            "sku": "S",
            "name": "Cap",
            "quantity": 1,
            "unit_price": {"amount": 500, "currency": "EUR"},
            "line_total": 500,
        }
        data = {
            "customer": {"email": "a@b.c"},
            "shipping_address": {"name": "A", "line1": "1", "city": "c", "postal_code": "1", "country": "BE"},
            "lines": [line],
            "currency": "EUR",
            "item_count": 1,
            "total": total,
        }
    return EventEnvelope(
        type=type_,
        aggregate_type="order",
        aggregate_id=order,
        aggregate_version=version,
        merchant_id=merchant,
        correlation_id="c",
        data=data,
    )


async def wait_for(probe):
    """The probe's first truthy answer (a projector process on a shared CI machine: 60 s)."""
    return await wait_until(probe, bool, timeout=60.0, interval=0.2, what="projection")


def merchant_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "merchant_cli.main", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def dead_letters(settings) -> list[tuple[str, int, str]]:
    consumer = AIOKafkaConsumer(
        settings.topic("orders.events.dlq"),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
        records = [r for rs in batches.values() for r in rs]
    finally:
        await consumer.stop()
    found = []
    for record in records:
        event = json.loads(record.value)
        found.append((event["aggregate_id"], event["aggregate_version"], dict(record.headers)["reason"].decode()))
    return found


async def test_a_poison_order_parks_its_aggregate_while_another_merchants_order_flows(
    settings, mongo_db, server_env, tmp_path
):
    tenant, other = f"m_{uuid.uuid4().hex[:8]}", f"m_{uuid.uuid4().hex[:8]}"
    bad, good, marker = (f"o_{uuid.uuid4().hex[:8]}" for _ in range(3))
    poison = order_event(bad, 1, tenant, total=2**63)
    confirmed = order_event(bad, 2, tenant, "OrderConfirmed")
    # The event store holds what the producer sent: the total as a decimal string (BSON
    # has no integer beyond 64 bits), the events after it as usual.
    legacy = commit_document(poison.model_copy(update={"data": {**poison.data, "total": 1}}))
    legacy["events"][0]["data"]["total"] = str(2**63)
    await mongo_db["commits"].insert_one(legacy)
    await store(mongo_db, [confirmed, order_event(good, 1, other)])

    producer = reliable_producer(settings)
    await producer.start()
    env = {**server_env, "PROJECTOR_GROUP_ID": f"park{uuid.uuid4().hex[:6]}"}
    service = stream_service("projector", "projectors", env, tmp_path).start()
    try:
        await produce(producer, settings, [poison, order_event(good, 1, other)])  # one batch, two merchants
        assert await wait_for(lambda: mongo_db["orders"].find_one({"_id": good, "merchant_id": other}))
        parking = await wait_for(lambda: mongo_db["projector_parked"].find_one({"_id": f"orders:{bad}"}))
        assert (parking["version"], "64 bits" in parking["reason"]) == (1, True)
        assert await mongo_db["orders"].find_one({"_id": bad}) is None

        # While parked, its next event waits: not applied, not dead-lettered. The marker
        # order shares its partition (same key), so once the marker is in, v2 was handled.
        await produce(producer, settings, [confirmed])
        marker_event = order_event(marker, 1, other)
        await producer.send_and_wait(settings.topic("orders.events"), marker_event.to_json(), key=confirmed.kafka_key())
        await wait_for(lambda: mongo_db["orders"].find_one({"_id": marker}))
        assert await mongo_db["orders"].find_one({"_id": bad}) is None
        letters = [(a, v) for a, v, _ in await dead_letters(settings)]
        assert letters == [(bad, 1)]
        log = (tmp_path / "projector.log").read_text()
        assert f"{bad} parked at v1" in log

        listed = merchant_cli(server_env, "parked", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        rows = [r for r in json.loads(listed.stdout) if r["aggregate_id"] == bad]
        assert [(r["parked_by"], r["version"]) for r in rows] == [("projector orders", 1)]

        # Retried unfixed: parked again, said so (exit 1).
        again = merchant_cli(server_env, "parked", "retry", bad)
        assert again.returncode == 1, again.stdout + again.stderr
        (result,) = json.loads(again.stdout)["projector"]
        assert result["parked_again"] and result["events_applied"] == 0
        assert await mongo_db["projector_parked"].find_one({"_id": f"orders:{bad}"})

        # The stored event corrected: the retry replays it and the event behind it.
        await mongo_db["commits"].update_one({"_id": legacy["_id"]}, {"$set": {"events.0.data.total": 500}})
        fixed = merchant_cli(server_env, "parked", "retry", bad)
        assert fixed.returncode == 0, fixed.stdout + fixed.stderr
        (result,) = json.loads(fixed.stdout)["projector"]
        assert (result["parked_again"], result["events_applied"]) == (False, 2)
        doc = await mongo_db["orders"].find_one({"_id": bad})
        assert (doc["version"], doc["total"], doc["status"]) == (2, 500, "confirmed")
        assert await mongo_db["projector_parked"].find_one({"_id": f"orders:{bad}"}) is None
    finally:
        service.stop()
        await producer.stop()
