"""The analytics subscriber: order events → counter increments, per Kafka batch; and the
pass that derives the read model of changed merchants (``workers.application.analytics``),
then signals the cache invalidation of each one's ``merchant_analytics`` (the query API
caches the answer until then; if the signal is lost, for its TTL).

Its consumer group is ``<group_prefix>.analytics.counters``, new with the counters: a
first start reads the orders topic from its beginning (retention is infinite), so the
counters hold the whole history and the read model is right from the first pass. A
batch is what one fetch brings (up to ``MAX_RECORDS``, waiting at most
``FETCH_MAX_WAIT_MS`` for ``FETCH_MIN_BYTES``); offsets are committed once it is written.
Records that are not envelopes are logged and skipped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from redis.asyncio import Redis

from shared.events import EventEnvelope
from shared.invalidation import Change, publish
from shared.settings import WorkerSettings
from shared.topics import ORDERS
from shared.worker_read_models import MERCHANT_ANALYTICS

from workers.adapters.analytics_store import AnalyticsStore
from workers.application.analytics import COUNTERS, CUSTOMERS, ORDER_EVENTS, Delivered, customer_key, increments
from workers.application.jobs import Job
from workers.application.policy import Handler
from workers.entrypoints.audit_events import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES, MAX_RECORDS

log = logging.getLogger(__name__)

# Told the merchant whose read model was just derived (the cache invalidation signal).
Derived = Callable[[str], Awaitable[object]]


async def _raw(message: Any) -> None:
    return None  # the handler decodes the records itself, so a malformed one reaches it


def subscribe_analytics(broker: KafkaBroker, settings: WorkerSettings, store: AnalyticsStore) -> None:
    @broker.subscriber(
        settings.topic(ORDERS),
        batch=True,
        decoder=_raw,
        group_id=f"{settings.group_prefix}.analytics.counters",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=MAX_RECORDS,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    async def analytics_events(body: Any, msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        await count(store, delivered(records))


def delivered(records: tuple[ConsumerRecord, ...]) -> list[Delivered]:
    """The order events of the batch with their partition and offset (malformed: logged, skipped)."""
    out = []
    for record in records:
        try:
            event = EventEnvelope.from_json(record.value)
        except (ValidationError, ValueError) as exc:
            log.error("skipping malformed event at %s/%s@%s: %s", record.topic, record.partition, record.offset, exc)
            continue
        if event.type in ORDER_EVENTS:
            out.append(Delivered(record.partition, record.offset, event))
    return out


async def count(store: AnalyticsStore, batch: list[Delivered]) -> None:
    """Read what the batch depends on, add its increments, write them (see the module of
    ``workers.application.analytics``)."""
    if not batch:
        return
    orders = list(dict.fromkeys(d.event.aggregate_id for d in batch))
    merchants = list(dict.fromkeys(d.event.merchant_id for d in batch))
    keys = [
        customer_key(d.event.merchant_id, d.event.data["customer"]["email"].lower())
        for d in batch
        if d.event.type == "OrderPlaced"
    ]
    facts = await store.facts(orders)
    counted = await store.offsets(COUNTERS, merchants)
    customers = await store.offsets(CUSTOMERS, list(dict.fromkeys(keys)))
    await store.apply(increments(batch, facts, counted, customers), counted, customers)


async def derive_changed(store: AnalyticsStore, derived: Derived) -> int:
    """Rewrite the read model of every merchant changed since its last derivation, and
    tell ``derived`` of each (the query API's cached answer is stale from then on)."""
    changed = await store.changed_merchants()
    for merchant, marked_at in changed:
        await store.derive(merchant, marked_at)
        await derived(merchant)
    return len(changed)


async def derive_forever(store: AnalyticsStore, interval: float, derived: Derived) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await derive_changed(store, derived)
        except Exception as exc:  # the marks stay; the next pass retries
            log.warning("analytics derivation failed: %s", exc)


def invalidation(redis: Redis, prefix: str) -> Derived:
    """After a derivation: the cache invalidation of ``(merchant_analytics, merchant)``. If
    Redis cannot be reached it is logged (``shared.invalidation``) and the query API's
    cached answer lives its TTL."""

    async def derived(merchant_id: str) -> bool:
        return await publish(redis, [Change(MERCHANT_ANALYTICS, merchant_id)], prefix)

    return derived


def analytics_handlers(store: AnalyticsStore, derived: Derived) -> dict[str, Handler]:
    """Jobs left on ``jobs.analytics.*`` by earlier versions: a roll-up derives the read
    model; a per-event record is already counted from the orders topic by the counters'
    consumer group (which read it from the beginning), so it is acknowledged and dropped."""

    async def record(job: Job) -> None:
        log.info("analytics job %s superseded by the counters (orders topic)", job.job_id)

    async def rollup(job: Job) -> None:
        await derive_changed(store, derived)

    return {"record": record, "rollup": rollup}
