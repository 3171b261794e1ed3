"""How far behind each projection is, and when it will have caught up.

A projection's position is its stream's consumer-group offsets (``projectors.entrypoints.app``),
over every topic the group reads (products: also the merchant names fanned out to them);
events behind = end offsets minus committed offsets, summed over partitions; seconds
behind = age of the oldest event not yet consumed (0 when caught up). ``lag()`` is the
function the metrics exporter calls. ``catch_up()`` samples the offsets twice,
``sample_seconds`` apart, for the rate the group consumes at and the time left at that
rate (``eta_seconds``: ``None`` while the group consumes nothing — stopped, or stuck).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import cast

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import GroupCoordinatorNotAvailableError
from aiokafka.structs import OffsetAndMetadata

from shared.settings import ProjectorSettings

from projectors.application.engine import Stream
from projectors.entrypoints.streams import STREAMS, topics_of

Offsets = dict[TopicPartition, OffsetAndMetadata]
COORDINATOR_TRIES = 20
COORDINATOR_WAIT = 0.5  # seconds between lookups


async def _stop(consumer: AIOKafkaConsumer) -> None:
    # aiokafka 0.14's group-less consumer cancels an internal task on stop and lets the
    # CancelledError escape; the consumer is closed all the same.
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


@dataclass(frozen=True)
class Lag:
    projection: str
    stream: str
    events_behind: int
    seconds_behind: float


@dataclass(frozen=True)
class CatchUp(Lag):
    events_per_second: float
    eta_seconds: float | None  # None: not consuming


@dataclass(frozen=True)
class Positions:
    ends: dict[TopicPartition, int]
    committed: dict[TopicPartition, int]

    @property
    def behind(self) -> int:
        return sum(max(0, end - self.committed[tp]) for tp, end in self.ends.items())

    @property
    def done(self) -> int:
        return sum(self.committed.values())

    def pending(self) -> dict[TopicPartition, int]:
        return {tp: self.committed[tp] for tp, end in self.ends.items() if end > self.committed[tp]}


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


async def positions(settings: ProjectorSettings, stream: Stream) -> Positions:
    group = f"{settings.group_id}.{stream.name}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    await admin.start()
    await consumer.start()
    try:
        described = await admin.describe_topics([settings.topic(t) for t in topics_of(stream)])
        partitions = [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if not t.get("error_code")
            for p in t["partitions"]
        ]
        if not partitions:
            return Positions({}, {})
        ends = await consumer.end_offsets(partitions)
        committed = await _committed(admin, group, partitions)
    finally:
        await _stop(consumer)
        await admin.close()
    done = {}
    for tp in partitions:
        meta = committed.get(tp)
        done[tp] = meta.offset if meta is not None and meta.offset >= 0 else 0
    return Positions(dict(ends), done)


async def _committed(admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]) -> Offsets:
    """The group's committed offsets. A fresh Kafka has no coordinator until the first
    lookup creates ``__consumer_offsets`` (a second or two): that lookup is retried."""
    for _ in range(COORDINATOR_TRIES - 1):
        try:
            return await _offsets(admin, group, partitions)
        except GroupCoordinatorNotAvailableError:
            await asyncio.sleep(COORDINATOR_WAIT)
    return await _offsets(admin, group, partitions)  # the last try raises what it meets


async def _offsets(admin: AIOKafkaAdminClient, group: str, partitions: list[TopicPartition]) -> Offsets:
    return cast(Offsets, await admin.list_consumer_group_offsets(group, partitions=partitions))  # aiokafka: untyped


async def stream_lag(settings: ProjectorSettings, stream: Stream) -> tuple[int, float]:
    now = await positions(settings, stream)
    return now.behind, await _oldest_pending_age(settings, now.pending())


async def lag(settings: ProjectorSettings | None = None) -> list[Lag]:
    """One row per read model (read models fed by one stream share its lag)."""
    settings = settings or ProjectorSettings()
    rows = []
    for stream in STREAMS:
        behind, seconds = await stream_lag(settings, stream)
        rows += [Lag(model, stream.name, behind, round(seconds, 3)) for model in stream.served]
    return rows


def eta(behind: int, rate: float) -> float | None:
    """Seconds to consume ``behind`` events at ``rate`` events/s (``None``: never, at 0)."""
    if behind == 0:
        return 0.0
    return behind / rate if rate > 0 else None


async def _stream_catch_up(settings: ProjectorSettings, stream: Stream, seconds: float) -> CatchUp:
    first = await positions(settings, stream)
    began = time.monotonic()
    await asyncio.sleep(seconds)
    last = await positions(settings, stream)
    rate = max(0, last.done - first.done) / (time.monotonic() - began)
    age = await _oldest_pending_age(settings, last.pending())
    return CatchUp("", stream.name, last.behind, round(age, 3), round(rate, 1), eta(last.behind, rate))


async def catch_up(settings: ProjectorSettings | None = None, sample_seconds: float = 2.0) -> list[CatchUp]:
    """``lag()`` plus the consumption rate over ``sample_seconds`` and the time left at it."""
    settings = settings or ProjectorSettings()
    sampled = await asyncio.gather(*(_stream_catch_up(settings, s, sample_seconds) for s in STREAMS))
    return [
        CatchUp(model, row.stream, row.events_behind, row.seconds_behind, row.events_per_second, row.eta_seconds)
        for stream, row in zip(STREAMS, sampled, strict=True)
        for model in stream.served
    ]
