"""The projector process: one FastStream batch subscriber per stream (``projectors.entrypoints.streams``).

Per batch: decode the envelopes, apply them with ``projectors.application.engine.apply_batch``
(each event with its topic partition and offset: the derived read models' counters are
guarded by them), dead-letter what cannot be projected (its aggregate parked: an error log
line and ``merchant_projector_parked_aggregates_total{stream}``), then signal cache
invalidation.
Offsets are committed only after all of that returned (``AckPolicy.NACK_ON_ERROR``: an
exception rewinds every partition of the batch, so Kafka redelivers it). At-least-once
delivery plus idempotent writes gives effectively-once read models. Several processes in
one consumer group share the partitions; an aggregate's events share a partition (key =
aggregate id), so per-aggregate order holds; a rebalance hands a partition over only
between two batches (``handover``), so two members never apply one partition at once.
A batch holds at most the stream's current limit, retuned after each batch so that one
takes about ``PROJECTOR_BATCH_SECONDS`` (``batch_bound``), far within Kafka's 5-minute
poll interval.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError

from shared.events import EventEnvelope
from shared.invalidation import Change, publish
from shared.kafka import ensure_topics
from shared.observability import metrics
from shared.observability.logs import library_logger
from shared.observability.stream import instrument_faststream
from shared.settings import ProjectorSettings
from shared.topics import DOMAIN_TOPIC_PARTITIONS

from projectors.adapters.indexes import ensure_read_model_indexes
from projectors.application.engine import Batch, Delivery, Outcome, Stream, apply_batch
from projectors.entrypoints.batch_bound import BatchBound
from projectors.entrypoints.bootstrap import ProjectorSide, bootstrap, close
from projectors.entrypoints.handover import Handover
from projectors.entrypoints.names import Record, apply_fanned_out, fan_out, topic_partitions
from projectors.entrypoints.streams import MERCHANTS_STREAM, NAMES_TOPIC, PRODUCTS_STREAM, STREAMS, topics_of

log = logging.getLogger(__name__)

COUNTERS = "projection_counters"

DeadRecord = tuple[Record, str]


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


def group_id(settings: ProjectorSettings, stream: Stream) -> str:
    return f"{settings.group_id}.{stream.name}"


def source_of(record: Record) -> str:
    """Where a record's position counts: its topic partition (derived counters key on it)."""
    return f"{record.topic}#{record.partition}"


def decode_records(records: Sequence[Record]) -> tuple[Batch, list[DeadRecord]]:
    """The batch of envelopes, and ``(record, reason)`` for every record that is not one.

    A record that is not an envelope still ends its partition's positions: the batch
    covers it."""
    deliveries: list[Delivery] = []
    dead: list[DeadRecord] = []
    ends: dict[str, int] = {}
    for record in records:
        source = source_of(record)
        ends[source] = max(ends.get(source, record.offset), record.offset)
        try:
            event = EventEnvelope.from_json(record.value or b"")  # upcast by decode_data
        except (ValidationError, ValueError) as exc:
            dead.append((record, f"malformed envelope: {str(exc)[:500]}"))
            continue
        deliveries.append(Delivery(event, source, record.offset))
    return Batch.of(deliveries, ends), dead


async def send_dead_letters(
    producer: AIOKafkaProducer, topic: str, records: list[DeadRecord], events: list[tuple[EventEnvelope, str]]
) -> None:
    """Produce each dead letter (original bytes, reason in a header) and wait for acks."""
    sends = []
    for record, reason in records:
        headers = [
            ("reason", reason.encode()),
            ("source", f"{record.topic}/{record.partition}@{record.offset}".encode()),
        ]
        sends.append(await producer.send(topic, record.value, key=record.key, headers=headers))
    for event, reason in events:
        headers = [*event.kafka_headers(), ("reason", reason.encode())]
        sends.append(await producer.send(topic, event.to_json(), key=event.kafka_key(), headers=headers))
    for sent in sends:
        await sent


@dataclass
class Running:
    """The projector side once the app has started (subscribers are declared before)."""

    side: ProjectorSide | None = None

    def __call__(self) -> ProjectorSide:
        if self.side is None:
            raise RuntimeError("the projector side is not open: the app has not started")
        return self.side


async def project(side: ProjectorSide, stream: Stream, topic: str, records: Sequence[Record]) -> Outcome:
    batch, bad_records = decode_records(records)
    outcome = await apply_batch(side.store, side.history, stream, batch)
    dead = len(bad_records) + len(outcome.dead)
    if dead:
        assert side.producer is not None, "the app opens its producer"
        await send_dead_letters(side.producer, dead_letter_topic(topic), bad_records, outcome.dead)
        await side.db[COUNTERS].update_one({"_id": stream.name}, {"$inc": {"dead_lettered": dead}}, upsert=True)
        log.warning("%s: %d event(s) dead-lettered, e.g. %s", stream.name, dead, (bad_records or outcome.dead)[0][1])
    for parking in outcome.parked:
        metrics.projector_parked.labels(stream.name).inc()
        log.error(
            "%s: %s parked at v%d (merchant %s), its later events wait (`merchant parked list`): %s",
            stream.name,
            parking.aggregate_id,
            parking.version,
            parking.merchant_id,
            parking.reason,
        )
    return outcome


async def _raw_body(message: Any) -> None:
    return None  # the handler reads the raw records itself: malformed ones must reach it


def still_assigned(records: Sequence[Record], consumer: Any) -> Sequence[Record]:
    """The records of partitions this member still owns (a rebalance may have moved some
    between the fetch and the batch; their new owner reads them from the committed offset)."""
    assignment = getattr(consumer, "assignment", None)
    if assignment is None:
        return records
    owned = assignment()
    kept = [r for r in records if TopicPartition(r.topic, r.partition) in owned]
    if len(kept) < len(records):
        log.info(
            "%d record(s) of partitions handed over in a rebalance left to their new owner", len(records) - len(kept)
        )
    return kept


def partition_count(consumer: Any, topic: str) -> int:
    found = consumer.partitions_for_topic(topic) if hasattr(consumer, "partitions_for_topic") else None
    return len(found) if found else DOMAIN_TOPIC_PARTITIONS


class Handler(Protocol):
    async def __call__(self, side: ProjectorSide, records: Sequence[Record], consumer: Any) -> list[Change]: ...


def stream_handler(settings: ProjectorSettings, stream: Stream) -> Handler:
    """What one batch of a stream's consumer group does, besides applying its events:
    the merchants fan their names out; the products apply the names fanned out to them."""
    topic, names = settings.topic(stream.topic), settings.topic(NAMES_TOPIC)

    async def handle(side: ProjectorSide, records: Sequence[Record], consumer: Any) -> list[Change]:
        events = [r for r in records if r.topic == topic]
        outcome = await project(side, stream, topic, events)
        changes = outcome.changes
        if stream is MERCHANTS_STREAM and outcome.touched:
            assert side.producer is not None, "the app opens its producer"
            await fan_out(side.producer, names, partition_count(consumer, names), outcome.touched)
        fanned = [r for r in records if r.topic == names]
        if fanned:
            changes += await apply_fanned_out(side.store, fanned, partition_count(consumer, topic))
        return changes

    return handle


def subscribe(broker: KafkaBroker, settings: ProjectorSettings, stream: Stream, running: Running) -> BatchBound:
    """Declare the stream's batch subscriber; its batch bound is returned (to be looked at)."""
    handover = Handover()
    handle_batch = stream_handler(settings, stream)
    bound = BatchBound.of(settings, stream.name)

    subscriber = broker.subscriber(
        *(settings.topic(t) for t in topics_of(stream)),
        batch=True,
        group_id=group_id(settings, stream),
        decoder=_raw_body,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_records=bound.current,  # retuned after every batch (batch_bound)
        max_partition_fetch_bytes=settings.fetch_partition_bytes,
        batch_timeout_ms=settings.batch_timeout_ms,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=max(settings.session_timeout_ms // 3, 500),
        listener=handover,
        # Partition p of every topic of the group to one member: the products and the
        # merchant names fanned out to them (projectors.entrypoints.names). Round robin
        # too, so members of an older version (a rolling upgrade) can share the group: it
        # assigns by range once every member offers it.
        partition_assignment_strategy=(RangePartitionAssignor, RoundRobinPartitionAssignor),
    )
    bound.attach(subscriber)

    @subscriber
    async def handle(body: Any, msg: KafkaMessage) -> None:
        async with handover.batch():
            raw = msg.raw_message
            fetched = raw if isinstance(raw, tuple) else (raw,)
            async with bound.timing(len(fetched)):
                records = still_assigned(fetched, msg.consumer)
                side = running()
                changes = await handle_batch(side, records, msg.consumer)
                if side.redis is not None:
                    await publish(side.redis, changes, prefix=side.settings.kafka_topic_prefix)

    return bound


async def ensure_own_topics(settings: ProjectorSettings) -> None:
    """The dead-letter topics, and the names fan-out with as many partitions as products."""
    await ensure_topics(settings, tuple(dead_letter_topic(settings.topic(s.topic)) for s in STREAMS), partitions=1)
    products = await topic_partitions(settings, settings.topic(PRODUCTS_STREAM.topic))
    await ensure_topics(settings, (settings.topic(NAMES_TOPIC),), partitions=products or DOMAIN_TOPIC_PARTITIONS)
    names = await topic_partitions(settings, settings.topic(NAMES_TOPIC))
    if products and names != products:
        log.error(
            "%s has %s partitions and %s %s: merchant renames will miss products; recreate it",
            NAMES_TOPIC,
            names,
            PRODUCTS_STREAM.topic,
            products,
        )


def create_app(settings: ProjectorSettings | None = None) -> FastStream:
    settings = settings or ProjectorSettings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=library_logger("projectors"))
    running = Running()
    for stream in STREAMS:
        subscribe(broker, settings, stream, running)

    async def open_side() -> None:
        running.side = side = await bootstrap(settings, redis=True, producer=True)
        await ensure_read_model_indexes(side.db)
        await ensure_own_topics(settings)

    async def close_side() -> None:
        if running.side is not None:
            await close(running.side)

    app = FastStream(broker, logger=library_logger("projectors"), on_startup=[open_side], after_shutdown=[close_side])
    return instrument_faststream(app, "projectors")
