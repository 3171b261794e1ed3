"""Publishing jobs to Kafka through the process's FastStream broker (``Publisher``).

The broker is idempotent with ``acks=all`` (``workers.entrypoints.bootstrap``), the key
is the job's key (one aggregate's jobs stay ordered in one partition) and the headers
repeat the job id, kind, action, attempt and correlation id for tracing. A publish
returns once Kafka acknowledged the message, and raises if it could not be written: the
caller then leaves its own offset uncommitted, so nothing is lost.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from workers.application.jobs import Job


class BrokerPublisher:
    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def __call__(self, topic: str, job: Job) -> None:
        await self.broker.publish(job.to_json(), topic, key=job.key.encode(), headers=job.headers())
