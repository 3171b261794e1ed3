"""Jobs: what the workers do, how they travel, and which topics carry them.

A job kind has three topics, all under the settings' prefix:

- ``jobs.<kind>``        — work to do (consumer group ``<group_prefix>.<kind>``);
- ``jobs.<kind>.retry``  — failed attempts waiting for their backoff to pass;
- ``jobs.<kind>.dlq``    — jobs that exhausted their retries, with every attempt's error.

A job id is derived from the domain event that caused it (``job_id_for``), so a
redelivered event produces the *same* job, and the dedupe record stops a second send.

On the wire a job's ``payload`` is plain JSON, whatever its kind, so the delivery policy
(retry topics, dead letters, replays) moves any job without knowing its shape; the
handler of each action reads it as its model (``workers.application.payloads``) with
``Job.read``, and producers build it from that model.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from shared.events import utc_now
from shared.settings import ServerSettings

JobKind = Literal["email", "sms", "reports", "analytics", "audit", "warmup"]
KINDS: tuple[JobKind, ...] = ("email", "sms", "reports", "analytics", "audit", "warmup")
JOB_TOPIC_PARTITIONS = 6

_JOB_NAMESPACE = uuid.UUID("0b6c3f57-4f0e-4a63-9f57-8a2c7d1e5b90")


def job_id_for(source_id: str | uuid.UUID, action: str) -> str:
    """Stable id of the job ``action`` caused by ``source_id`` (an event or aggregate id)."""
    return str(uuid.uuid5(_JOB_NAMESPACE, f"{source_id}:{action}"))


def job_topic(settings: ServerSettings, kind: str) -> str:
    return settings.topic(f"jobs.{kind}")


def retry_topic(settings: ServerSettings, kind: str) -> str:
    return settings.topic(f"jobs.{kind}.retry")


def dlq_topic(settings: ServerSettings, kind: str) -> str:
    return settings.topic(f"jobs.{kind}.dlq")


def all_job_topics(settings: ServerSettings) -> tuple[str, ...]:
    return tuple(t for k in KINDS for t in (job_topic(settings, k), retry_topic(settings, k), dlq_topic(settings, k)))


PayloadT = TypeVar("PayloadT", bound=BaseModel)


class Attempt(BaseModel):
    attempt: int
    error: str
    at: datetime = Field(default_factory=utc_now)


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: str
    kind: JobKind
    action: str
    merchant_id: str
    correlation_id: str
    key: str = Field(description="Kafka key: keeps one aggregate's jobs in order.")
    payload: dict[str, Any] = Field(default_factory=dict)
    attempt: int = 1
    not_before: datetime | None = None
    history: list[Attempt] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    # Set only on dead letters: why the last attempt failed.
    dead_reason: str | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    def read(self, model: type[PayloadT]) -> PayloadT:
        """The payload as ``model``; a ``pydantic.ValidationError`` (a ``ValueError``) when
        it does not fit."""
        return model.model_validate(self.payload)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Job:
        return cls.model_validate_json(raw)

    def headers(self) -> dict[str, str]:
        return {
            "job_id": self.job_id,
            "kind": self.kind,
            "action": self.action,
            "attempt": str(self.attempt),
            "correlation_id": self.correlation_id,
        }
