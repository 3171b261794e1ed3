"""The workers' ``activity`` subscriber: every domain event, one correlated log line, and
the business metrics (shared.observability.business).

It joins at the end of the streams (``latest``): the counters measure what happens while
the process runs, they do not replay history on a first start.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared.events import EventEnvelope
from shared.observability.business import BusinessMetrics
from shared.settings import WorkerSettings
from shared.topics import DOMAIN_TOPICS

log = logging.getLogger(__name__)


def register(broker: KafkaBroker, settings: WorkerSettings) -> None:
    business = BusinessMetrics()

    @broker.subscriber(
        *(settings.topic(t) for t in DOMAIN_TOPICS),
        group_id=f"{settings.group_prefix}.activity",
        auto_offset_reset="latest",
    )
    async def observe_activity(body: Any, msg: KafkaMessage) -> None:  # raw bytes parsed below
        try:
            event = EventEnvelope.from_json(msg.body)
        except ValueError as exc:
            log.warning("activity: malformed event skipped: %s", exc)
            return
        business.observe(event)
        log.info(
            "domain event %s",
            event.type,
            extra={
                "event_type": event.type,
                "event_id": str(event.event_id),
                "aggregate_id": event.aggregate_id,
                "aggregate_version": event.aggregate_version,
                "merchant_id": event.merchant_id,
                "correlation_id": event.correlation_id,
            },
        )
