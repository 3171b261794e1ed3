"""The analytics subscriber: order events → counter increments, per Kafka batch; and the
pass that derives the read model of changed merchants (``workers.application.analytics``).

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
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.events import EventEnvelope
from shared.settings import WorkerSettings
from shared.topics import ORDERS

from workers.adapters.analytics_store import AnalyticsStore
from workers.application.analytics import COUNTERS, CUSTOMERS, ORDER_EVENTS, Delivered, customer_key, increments
from workers.application.jobs import Job
from workers.application.policy import Handler
from workers.entrypoints.audit_events import FETCH_MAX_WAIT_MS, FETCH_MIN_BYTES, MAX_RECORDS

log = logging.getLogger(__name__)


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


async def derive_changed(store: AnalyticsStore) -> int:
    """Rewrite the read model of every merchant changed since its last derivation."""
    changed = await store.changed_merchants()
    for merchant, marked_at in changed:
        await store.derive(merchant, marked_at)
    return len(changed)


async def derive_forever(store: AnalyticsStore, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await derive_changed(store)
        except Exception as exc:  # the marks stay; the next pass retries
            log.warning("analytics derivation failed: %s", exc)


def analytics_handlers(store: AnalyticsStore) -> dict[str, Handler]:
    """Jobs left on ``jobs.analytics.*`` by earlier versions: a roll-up derives the read
    model; a per-event record is already counted from the orders topic by the counters'
    consumer group (which read it from the beginning), so it is acknowledged and dropped."""

    async def record(job: Job) -> None:
        log.info("analytics job %s superseded by the counters (orders topic)", job.job_id)

    async def rollup(job: Job) -> None:
        await derive_changed(store)

    return {"record": record, "rollup": rollup}
