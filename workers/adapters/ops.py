"""Queue health per job kind, and re-queueing dead letters.

Per kind: ``lag`` (jobs not yet consumed, summed over partitions; for audit and
analytics also the domain events they have not read yet), ``in_flight`` (jobs running
now, from the workers' heartbeats), ``retries`` (waiting retries / all retries so far)
and ``dead_letters`` (not yet replayed / all). Everything is read from Kafka offsets and
the heartbeat documents, so any process can report it — the CLI and the worker's
``/ops/jobs`` endpoint call the same ``queue_health``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TypedDict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.events import utc_now
from shared.mongo import Database
from shared.settings import WorkerSettings
from shared.topics import DOMAIN_TOPICS, ORDERS, REPORTS

from workers.application.jobs import KINDS, Job, JobKind, dlq_topic, job_topic, retry_topic
from workers.application.policy import Publisher

log = logging.getLogger(__name__)

WORKER_STATUS = "worker_status"
HEARTBEAT_FRESH = timedelta(seconds=15)
# The domain events each kind's jobs come from, and the consumer group reading them: a
# kind's lag includes the events not yet read (not yet turned into jobs).
EVENT_SOURCES: dict[JobKind, tuple[str, tuple[str, ...]]] = {
    "email": ("dispatch", (ORDERS, REPORTS)),
    "sms": ("dispatch", (ORDERS,)),
    "reports": ("dispatch", (REPORTS,)),
    "audit": ("audit.events", DOMAIN_TOPICS),
    "analytics": ("analytics.events", (ORDERS,)),
}


def group(settings: WorkerSettings, name: str) -> str:
    return f"{settings.group_prefix}.{name}"


class KindHealth(TypedDict):
    lag: int  # jobs (and source events) not consumed yet
    in_flight: int  # running now, summed over fresh heartbeats
    retries_waiting: int
    retries_total: int
    dead_letters: int  # not replayed yet
    dead_letters_total: int


class Offsets:
    """End offsets and committed offsets, through one admin client and one consumer."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)

    async def __aenter__(self) -> Offsets:
        await self.admin.start()
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()
        await self.admin.close()

    async def ends(self, topics: list[str]) -> dict[TopicPartition, int]:
        described = await self.admin.describe_topics(topics)
        tps: list[TopicPartition] = [
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if not t.get("error_code")
            for p in t["partitions"]
        ]
        if not tps:
            return {}
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(tps)
        return ends

    async def lag(self, group_id: str, ends: dict[TopicPartition, int], topics: tuple[str, ...]) -> int:
        committed = await self.admin.list_consumer_group_offsets(group_id)
        return sum(
            end - (committed[tp].offset if tp in committed and committed[tp].offset >= 0 else 0)
            for tp, end in ends.items()
            if tp.topic in topics
        )


async def queue_health(settings: WorkerSettings, db: Database) -> dict[JobKind, KindHealth]:
    in_flight: dict[str, int] = {kind: 0 for kind in KINDS}
    async for beat in db[WORKER_STATUS].find({"updated_at": {"$gte": utc_now() - HEARTBEAT_FRESH}}):
        for kind, stats in beat.get("kinds", {}).items():
            in_flight[kind] = in_flight.get(kind, 0) + stats.get("in_flight", 0)
    health: dict[JobKind, KindHealth] = {}
    async with Offsets(settings) as offsets:
        domain = tuple(settings.topic(t) for t in DOMAIN_TOPICS)
        ends = await offsets.ends(
            [
                *domain,
                *(t for k in KINDS for t in (job_topic(settings, k), retry_topic(settings, k), dlq_topic(settings, k))),
            ]
        )
        for kind in KINDS:
            main, retry, dlq = job_topic(settings, kind), retry_topic(settings, kind), dlq_topic(settings, kind)
            lag = await offsets.lag(group(settings, kind), ends, (main,))
            if kind in EVENT_SOURCES:
                source_group, topics = EVENT_SOURCES[kind]
                sources = tuple(settings.topic(t) for t in topics)
                lag += await offsets.lag(group(settings, source_group), ends, sources)
            total = {t: sum(end for tp, end in ends.items() if tp.topic == t) for t in (retry, dlq)}
            health[kind] = KindHealth(
                lag=lag,
                in_flight=in_flight.get(kind, 0),
                retries_waiting=await offsets.lag(group(settings, f"{kind}.retry"), ends, (retry,)),
                retries_total=total[retry],
                dead_letters=await offsets.lag(group(settings, f"{kind}.dlq-replay"), ends, (dlq,)),
                dead_letters_total=total[dlq],
            )
    return health


async def _partitions(settings: WorkerSettings, topic: str) -> list[TopicPartition]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    return [TopicPartition(topic, p["partition"]) for t in described for p in t.get("partitions", [])]


async def replay_dlq(settings: WorkerSettings, kind: JobKind, publish: Publisher, limit: int | None = None) -> int:
    """Re-queue the dead letters of ``kind`` not replayed yet; returns how many.

    A replayed job starts again at attempt 1 with its history kept. Progress is committed
    per message in the ``<kind>.dlq-replay`` group, so a replay interrupted midway
    resumes where it stopped, and a job is re-queued once per death.
    """
    tps = await _partitions(settings, dlq_topic(settings, kind))
    # Manual assignment (no rebalance wait); offsets still live in the replay group.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group(settings, f"{kind}.dlq-replay"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    consumer.assign(tps)
    replayed = 0
    try:
        ends = await consumer.end_offsets(tps)
        remaining = {tp: end for tp, end in ends.items() if await consumer.position(tp) < end}
        while remaining and (limit is None or replayed < limit):
            batch = await consumer.getmany(timeout_ms=1000)
            for tp, records in batch.items():
                for record in records:
                    dead = Job.from_json(record.value)
                    await publish(
                        job_topic(settings, kind),
                        dead.model_copy(update={"attempt": 1, "not_before": None, "dead_reason": None}),
                    )
                    await consumer.commit({tp: record.offset + 1})
                    replayed += 1
            for tp in list(remaining):
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
    finally:
        await consumer.stop()
    return replayed
