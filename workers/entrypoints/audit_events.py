"""The audit subscriber: every domain event → one audit entry, written per Kafka batch.

A batch is what one fetch brings (up to ``MAX_RECORDS``); the fetch waits until
``FETCH_MIN_BYTES`` have arrived or ``FETCH_MAX_WAIT_MS`` passed, so under load a batch
carries hundreds of events and the audit log costs one ``insert_many`` for them all — a
small fraction of a MongoDB operation per event — and an entry appears at most about half
a second after its event. Offsets are committed once the batch is written (a crash
redelivers it; the entries' unique ``_id`` keeps one per event). A record that is not an
envelope is logged and skipped: redelivering it could never succeed.
"""

from __future__ import annotations

import logging
from typing import Any

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.events import EventEnvelope
from shared.settings import WorkerSettings
from shared.topics import DOMAIN_TOPICS

from workers.adapters.audit_log import AuditLog
from workers.application.audit import audit_entry

log = logging.getLogger(__name__)

MAX_RECORDS = 1000
FETCH_MIN_BYTES = 64 * 1024
FETCH_MAX_WAIT_MS = 500


async def _raw(message: Any) -> None:
    return None  # the handler decodes the records itself, so a malformed one reaches it


def subscribe_audit(broker: KafkaBroker, settings: WorkerSettings, audit_log: AuditLog) -> None:
    @broker.subscriber(
        *(settings.topic(t) for t in DOMAIN_TOPICS),
        batch=True,
        decoder=_raw,
        group_id=f"{settings.group_prefix}.audit.events",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=MAX_RECORDS,
        fetch_min_bytes=FETCH_MIN_BYTES,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    async def audit_events(body: Any, msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        await audit_log.record([audit_entry(e) for e in decoded(records)])


def decoded(records: tuple[ConsumerRecord, ...]) -> list[EventEnvelope]:
    events = []
    for record in records:
        try:
            events.append(EventEnvelope.from_json(record.value))
        except (ValidationError, ValueError) as exc:
            log.error("skipping malformed event at %s/%s@%s: %s", record.topic, record.partition, record.offset, exc)
    return events
