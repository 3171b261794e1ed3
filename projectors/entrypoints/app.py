"""The projector process: one FastStream batch subscriber per stream (``projectors.entrypoints.streams``).

Per batch: decode the envelopes, apply them with ``projectors.application.engine.apply_batch`` (one
unordered bulk write per collection), dead-letter what cannot be projected, then signal
cache invalidation. Offsets are committed only after all of that returned
(``AckPolicy.NACK_ON_ERROR``: an exception rewinds every partition of the batch, so Kafka
redelivers it). At-least-once delivery plus idempotent writes gives effectively-once read
models. Several processes in one consumer group share the partitions; an aggregate's
events share a partition (key = aggregate id), so per-aggregate order holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared import mongo
from shared.events import EventEnvelope
from shared.invalidation import publish
from shared.kafka import ensure_topics, reliable_producer
from shared.observability.logs import library_logger
from shared.observability.stream import instrument_faststream
from shared.redis import open_redis
from shared.settings import ProjectorSettings

from projectors.adapters.bulk import detect_writer
from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.application.engine import Names, Stream, apply_batch
from projectors.entrypoints.streams import STREAMS

log = logging.getLogger(__name__)

COUNTERS = "projection_counters"


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def group_id(settings: ProjectorSettings, stream: Stream) -> str:
    return f"{settings.group_id}.{stream.name}"


@dataclass
class Resources:
    settings: ProjectorSettings
    handles: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.handles[name]
        except KeyError:
            raise AttributeError(name) from None


def decode_records(records: tuple[ConsumerRecord, ...]) -> tuple[list[EventEnvelope], list]:
    """Envelopes, and ``(record, reason)`` for every record that is not one."""
    events, dead = [], []
    for record in records:
        try:
            events.append(EventEnvelope.from_json(record.value))  # upcast by decode_data
        except (ValidationError, ValueError) as exc:
            dead.append((record, f"malformed envelope: {str(exc)[:500]}"))
    return events, dead


async def send_dead_letters(producer: AIOKafkaProducer, topic: str, records: list, events: list) -> None:
    """Produce each dead letter (original bytes, reason in a header) and wait for acks."""
    sends = []
    for record, reason in records:
        sends.append(
            await producer.send(
                topic,
                record.value,
                key=record.key,
                headers=[
                    ("reason", reason.encode()),
                    ("source", f"{record.topic}/{record.partition}@{record.offset}".encode()),
                ],
            )
        )
    for event, reason in events:
        sends.append(
            await producer.send(
                topic,
                event.to_json(),
                key=event.kafka_key(),
                headers=[*event.kafka_headers(), ("reason", reason.encode())],
            )
        )
    for sent in sends:
        await sent


async def _raw_body(message: Any) -> None:
    return None  # the handler reads the raw records itself: malformed ones must reach it


def subscribe(broker: KafkaBroker, stream: Stream, res: Resources) -> None:
    settings = res.settings
    topic = settings.topic(stream.topic)

    @broker.subscriber(
        topic,
        batch=True,
        group_id=group_id(settings, stream),
        decoder=_raw_body,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=settings.batch_size,
        batch_timeout_ms=settings.batch_timeout_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(settings.session_timeout_ms // 3, 500),
    )
    async def project(body: Any, msg: KafkaMessage) -> None:
        records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
        events, bad_records = decode_records(records)
        outcome = await apply_batch(res.db, stream, events, res.names)
        dead = len(bad_records) + len(outcome.dead)
        if dead:
            await send_dead_letters(res.producer, dead_letter_topic(topic), bad_records, outcome.dead)
            await res.db[COUNTERS].update_one({"_id": stream.name}, {"$inc": {"dead_lettered": dead}}, upsert=True)
            log.warning(
                "%s: %d event(s) dead-lettered, e.g. %s", stream.name, dead, (bad_records or outcome.dead)[0][1]
            )
        await publish(res.redis, outcome.changes, prefix=settings.kafka_topic_prefix)


def create_app(settings: ProjectorSettings | None = None) -> FastStream:
    settings = settings or ProjectorSettings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=library_logger("projectors"))
    res = Resources(settings)
    for stream in STREAMS:
        subscribe(broker, stream, res)

    async def open_resources() -> None:
        res.handles["client"] = mongo.open_mongo(settings)
        res.handles["db"] = mongo.database(res.client, settings)
        res.handles["redis"] = open_redis(settings)
        await ensure_read_model_indexes(res.db)
        res.handles["names"] = Names(writer=await detect_writer(res.db))
        await ensure_topics(settings, tuple(dead_letter_topic(settings.topic(s.topic)) for s in STREAMS), partitions=1)
        producer = reliable_producer(settings)
        await producer.start()
        res.handles["producer"] = producer

    async def close_resources() -> None:
        if "producer" in res.handles:
            await res.producer.stop()
        if "redis" in res.handles:
            await res.redis.aclose()
        await res.client.close()

    app = FastStream(
        broker, logger=library_logger("projectors"), on_startup=[open_resources], after_shutdown=[close_resources]
    )
    return instrument_faststream(app, "projectors")
