"""The worker's subscribers, each a few lines over the parts of a ``WorkerSide``.

Consumer groups are ``<group_prefix>.<name>``:

- ``dispatch``         orders/reports events → email, SMS and report jobs on ``jobs.<kind>``;
- ``audit.events``     every domain event → an audit entry, one ``insert_many`` per Kafka batch;
- ``analytics.counters`` order events → analytics counters, per Kafka batch (exactly once);
- ``<kind>``           ``jobs.<kind>`` → ``Runner.run`` (timeout, retry topic, dead letters);
- ``<kind>.retry``     ``jobs.<kind>.retry`` → back to ``jobs.<kind>`` once due.

A malformed message (not an envelope, not a job, a body that breaks its contract) is
logged and skipped: redelivering it could never succeed and would hold its partition.
Anything else that fails raises, so the offset stays uncommitted and Kafka redelivers.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from faststream import AckPolicy
from faststream.kafka.annotations import KafkaMessage
from pydantic import BaseModel

from shared.events import EventEnvelope, decode_data
from shared.topics import ORDERS, REPORTS

from workers.adapters.analytics_store import AnalyticsStore
from workers.adapters.audit_log import AuditLog
from workers.application.dispatch import DISPATCHED, dispatch
from workers.application.jobs import KINDS, Job, JobKind, job_topic, retry_topic
from workers.application.policy import relay_when_due
from workers.application.reports.handlers import record_requested
from workers.entrypoints.analytics_events import subscribe_analytics
from workers.entrypoints.audit_events import subscribe_audit
from workers.entrypoints.bootstrap import WorkerSide

log = logging.getLogger(__name__)

Subscriber = Callable[[Any, KafkaMessage], Awaitable[None]]
ModelT = TypeVar("ModelT", bound=BaseModel)


def register(side: WorkerSide) -> None:
    """Every subscriber of the worker process, on ``side.broker``."""
    topic = side.settings.topic
    subscribe(side, (topic(ORDERS), topic(REPORTS)), "dispatch")(dispatch_jobs(side))
    subscribe_audit(side.broker, side.settings, AuditLog(side.db))  # per Kafka batch
    subscribe_analytics(side.broker, side.settings, AnalyticsStore(side.db))  # counters, per Kafka batch
    for kind in KINDS:
        register_kind(side, kind)


def subscribe(
    side: WorkerSide, topics: tuple[str, ...], name: str, max_poll_interval_ms: int = 300_000
) -> Callable[[Subscriber], object]:
    return side.broker.subscriber(
        *topics,
        group_id=f"{side.settings.group_prefix}.{name}",
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        max_poll_interval_ms=max_poll_interval_ms,
    )


def register_kind(side: WorkerSide, kind: JobKind) -> None:
    """The pair of subscribers of one job kind: its jobs, and its retries once due."""
    runner = side.runners[kind]
    poll = int(runner.policy.timeout * 1000) + 60_000  # a long job must not lose its partitions

    async def run_job(body: Any, msg: KafkaMessage) -> None:
        if (job := decode_as(Job, msg)) is not None:
            await runner.run(job)

    async def relay_retry(body: Any, msg: KafkaMessage) -> None:
        if (job := decode_as(Job, msg)) is not None:
            await relay_when_due(job, side.publish, side.settings, closing=side.closing)

    subscribe(side, (job_topic(side.settings, kind),), kind, max(poll, 300_000))(run_job)
    subscribe(side, (retry_topic(side.settings, kind),), f"{kind}.retry", 600_000)(relay_retry)


def dispatch_jobs(side: WorkerSide) -> Subscriber:
    async def dispatch_jobs(body: Any, msg: KafkaMessage) -> None:
        event = decode_as(EventEnvelope, msg)
        if event is None or event.type not in DISPATCHED:
            return
        try:
            data = decode_data(event)
        except ValueError as exc:  # a body that breaks its contract can never make a job
            log.error("skipping %s %s: invalid body: %s", event.type, event.event_id, exc)
            return
        for job in await dispatch(event, data, side.contacts):
            if job.kind == "reports":
                await record_requested(side.db, job)
            await side.publish(job_topic(side.settings, job.kind), job)

    return dispatch_jobs


def decode_as(model: type[ModelT], msg: KafkaMessage) -> ModelT | None:
    """The message as ``model``, or None (logged): a malformed message is skipped, since
    redelivering it could never succeed and would hold its partition forever."""
    try:
        return model.model_validate_json(msg.body)
    except ValueError as exc:
        record = msg.raw_message
        log.error(
            "skipping malformed %s at %s/%s@%s: %s",
            model.__name__,
            getattr(record, "topic", "?"),
            getattr(record, "partition", "?"),
            getattr(record, "offset", "?"),
            exc,
        )
        return None
