"""How far behind each projection is: events behind and seconds behind.

A projection's position is its stream's consumer-group offsets (``projectors.entrypoints.app``);
events behind = end offsets minus committed offsets, summed over partitions; seconds
behind = age of the oldest event not yet consumed (0 when caught up). ``lag()`` is the
function the CLI and the metrics exporter call.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import ProjectorSettings

from projectors.entrypoints.streams import STREAMS


async def _stop(consumer: AIOKafkaConsumer) -> None:
    # aiokafka 0.14's group-less consumer cancels an internal task on stop and lets the
    # CancelledError escape; the consumer is closed all the same.
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        if asyncio.current_task().cancelling():
            raise


@dataclass(frozen=True)
class Lag:
    projection: str
    stream: str
    events_behind: int
    seconds_behind: float


async def _oldest_pending_age(settings: ProjectorSettings, positions: dict[TopicPartition, int]) -> float:
    if not positions:
        return 0.0
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(positions))
        for tp, offset in positions.items():
            consumer.seek(tp, offset)
        oldest = None
        fetched = await consumer.getmany(timeout_ms=2000, max_records=len(positions) * 5)
        for records in fetched.values():
            if records:
                first = records[0].timestamp / 1000
                oldest = first if oldest is None else min(oldest, first)
        return max(0.0, time.time() - oldest) if oldest else 0.0
    finally:
        await _stop(consumer)


async def stream_lag(settings: ProjectorSettings, stream_name: str, topic: str) -> tuple[int, float]:
    group = f"{settings.group_id}.{stream_name}"
    full_topic = settings.topic(topic)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics([full_topic])
        partitions = [
            TopicPartition(full_topic, p["partition"])
            for t in described
            if not t.get("error_code")
            for p in t["partitions"]
        ]
        if not partitions:
            return 0, 0.0
        ends = await consumer.end_offsets(partitions)
        committed = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await _stop(consumer)
        await admin.close()
    behind, pending = 0, {}
    for tp in partitions:
        meta = committed.get(tp)
        done = meta.offset if meta is not None and meta.offset >= 0 else 0
        if ends[tp] > done:
            behind += ends[tp] - done
            pending[tp] = done
    return behind, await _oldest_pending_age(settings, pending)


async def lag(settings: ProjectorSettings | None = None) -> list[Lag]:
    """One row per read model (read models fed by one stream share its lag)."""
    settings = settings or ProjectorSettings()
    rows = []
    for stream in STREAMS:
        behind, seconds = await stream_lag(settings, stream.name, stream.topic)
        rows += [Lag(model, stream.name, behind, round(seconds, 3)) for model in stream.read_models]
    return rows
