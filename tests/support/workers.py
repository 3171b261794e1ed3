"""Helpers for the worker tests: domain events, producing them, running a worker, waiting."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from shared.events import EventEnvelope
from shared.kafka import reliable_producer
from shared.settings import ServerSettings
from shared.topics import TOPIC_BY_AGGREGATE

from tests.support.processes import Service, free_port


def order_placed(
    merchant_id: str,
    email: str,
    *,
    order_id: str | None = None,
    phone: str | None = None,
    lines: list[tuple[str, int, int]] = (("Blue mug", 1250, 2), ("Tea towel", 899, 1)),
    currency: str = "EUR",
) -> EventEnvelope:
    """An OrderPlaced event; ``lines`` are (name, unit price in minor units, quantity)."""
    order_id = order_id or str(uuid.uuid4())
    body_lines = [
        {
            "product_id": f"p-{name}",
            "sku": name.upper().replace(" ", "-"),
            "name": name,
            "unit_price": {"amount": price, "currency": currency},
            "quantity": qty,
            "line_total": price * qty,
        }
        for name, price, qty in lines
    ]
    return EventEnvelope(
        type="OrderPlaced",
        aggregate_type="order",
        aggregate_id=order_id,
        aggregate_version=1,
        merchant_id=merchant_id,
        correlation_id=str(uuid.uuid4()),
        data={
            "customer": {"email": email, "phone": phone, "name": "Ada Buyer"},
            "shipping_address": {
                "name": "Ada Buyer",
                "line1": "1 Main St",
                "city": "Paris",
                "postal_code": "75001",
                "country": "FR",
            },
            "lines": body_lines,
            "currency": currency,
            "item_count": sum(q for _, _, q in lines),
            "total": sum(line["line_total"] for line in body_lines),
        },
    )


async def produce(settings: ServerSettings, events: list[EventEnvelope]) -> None:
    producer = reliable_producer(settings)
    await producer.start()
    try:
        for event in events:
            topic = settings.topic(TOPIC_BY_AGGREGATE[event.aggregate_type])
            await producer.send_and_wait(topic, event.to_json(), key=event.kafka_key(), headers=event.kafka_headers())
    finally:
        await producer.stop()


def worker(server_env: dict[str, str], log_dir: Path, name: str = "workers", **overrides: str) -> Service:
    """A worker process (``merchant serve workers``) with fast retries for tests."""
    port = free_port()
    env = {
        **server_env,
        "WORKER_OPS_PORT": str(port),
        "WORKER_RETRY_BASE_DELAY_SECONDS": "0.2",
        "WORKER_RETRY_MAX_DELAY_SECONDS": "2",
        "WORKER_CLAIM_LEASE_SECONDS": "3",  # a killed worker's send is taken over soon...
        "WORKER_EMAIL_TIMEOUT_SECONDS": "2",  # ... and it outlives a send's time limit
        "WORKER_SMS_TIMEOUT_SECONDS": "2",
        "WORKER_GRACEFUL_TIMEOUT_SECONDS": "5",
        "WORKER_ANALYTICS_ROLLUP_INTERVAL_SECONDS": "0.5",
        "WORKER_SMS_SINK": f"file://{log_dir}/sms.jsonl",
        "MERCHANT_METRICS_PORT": "0",
        **overrides,
    }
    return Service(name, ["workers"], env, log_dir / f"{name}.log", url=f"http://127.0.0.1:{port}")


async def wait_until(
    check: Callable[[], Awaitable], timeout: float = 30.0, interval: float = 0.2, what: str = "condition"
):
    """Poll ``check`` until it returns something truthy; return it, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def mailbox(api: str, to: str) -> list[dict]:
    """Full messages addressed to ``to`` at the local SMTP server (Mailpit-compatible API)."""
    async with httpx.AsyncClient(base_url=api, timeout=5) as client:
        listed = (await client.get("/api/v1/messages", params={"limit": 1000})).json()["messages"]
        found = [m for m in listed if any(a["Address"] == to for a in m["To"])]
        return [(await client.get(f"/api/v1/message/{m['ID']}")).json() for m in found]


async def mail_to(api: str, recipients: set[str]) -> dict[str, list[dict]]:
    """Message summaries at the local SMTP server, per recipient among ``recipients``."""
    async with httpx.AsyncClient(base_url=api, timeout=10) as client:
        listed = (await client.get("/api/v1/messages", params={"limit": 2000})).json()["messages"]
    found: dict[str, list[dict]] = {r: [] for r in recipients}
    for message in listed:
        for address in {a["Address"] for a in message["To"]} & recipients:
            found[address].append(message)
    return found


async def queue_idle(settings, db, kinds: tuple[str, ...]) -> bool:
    """No lag, nothing in flight and no retry waiting for ``kinds``."""
    from workers.adapters.ops import queue_health

    health = await queue_health(settings, db)
    return all(
        health[k]["lag"] == 0 and health[k]["in_flight"] == 0 and health[k]["retries_waiting"] == 0 for k in kinds
    )


def worker_settings(server_env: dict[str, str]):
    from shared.settings import WorkerSettings

    return WorkerSettings(**{k.lower(): v for k, v in server_env.items()})


async def dead_letter(settings, kind: str, job_id: str, timeout: float = 60):
    """The dead letter of ``job_id`` on ``jobs.<kind>.dlq`` and when it was written."""
    import orjson
    from aiokafka import AIOKafkaConsumer

    from workers.application.jobs import Job, dlq_topic

    consumer = AIOKafkaConsumer(
        dlq_topic(settings, kind),
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:

        async def find():
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    if orjson.loads(record.value)["job_id"] == job_id:
                        return Job.from_json(record.value), record.timestamp / 1000
            return None

        return await wait_until(find, timeout=timeout, interval=0, what=f"dead letter {job_id}")
    finally:
        await consumer.stop()
