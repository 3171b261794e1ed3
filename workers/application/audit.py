"""Audit log: every domain event recorded once, append-only, readable by its merchant.

The entry's ``_id`` is the event id, so recording is an insert that a redelivered event
cannot repeat (the duplicate-key error means "already recorded"). Entries are never
updated or deleted by the product. Collection and shape: ``shared.worker_read_models``.

Events are recorded per Kafka batch, one ``insert_many`` each (``workers.entrypoints
.audit_events``, ``workers.adapters.audit_log``). ``audit_handlers`` records one entry per
job, for audit jobs still waiting on ``jobs.audit.*``.
"""

from __future__ import annotations

from pymongo.errors import DuplicateKeyError

from shared.events import EventEnvelope, utc_now
from shared.mongo import Database, ensure_indexes
from shared.worker_read_models import AUDIT_LOG, AUDIT_LOG_INDEXES, AuditActor, AuditEntry

from workers.application.jobs import Job
from workers.application.policy import Handler


def audit_job(event: EventEnvelope) -> Job:
    """The audit job of one event: its payload is the envelope itself."""
    return Job(
        job_id=str(event.event_id),
        kind="audit",
        action="record",
        key=event.aggregate_id,
        merchant_id=event.merchant_id,
        correlation_id=event.correlation_id,
        payload=event.model_dump(mode="json"),
    )


def audit_entry(event: EventEnvelope) -> AuditEntry:
    return AuditEntry(
        event_id=str(event.event_id),
        merchant_id=event.merchant_id,
        # who: the merchant whose key issued the command, and the command itself
        actor=AuditActor(merchant_id=event.merchant_id, command_id=event.causation_id),
        # what
        type=event.type,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        data=event.data,
        # when, and the request it belongs to
        occurred_at=event.occurred_at,
        recorded_at=utc_now(),
        correlation_id=event.correlation_id,
    )


async def create_indexes(db: Database) -> None:
    await ensure_indexes(db[AUDIT_LOG], AUDIT_LOG_INDEXES)


def audit_handlers(db: Database) -> dict[str, Handler]:
    log = db[AUDIT_LOG]

    async def record(job: Job) -> None:
        try:
            await log.insert_one(audit_entry(job.read(EventEnvelope)).document())
        except DuplicateKeyError:
            pass  # recorded by an earlier delivery: exactly one entry per event

    return {"record": record}
