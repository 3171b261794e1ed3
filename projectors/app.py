"""The projector process: FastStream subscribers that apply domain events in batches.

Offsets are committed only after the batch's bulk write returned (``AckPolicy.ACK``):
a crash re-delivers the batch, and the version guards make re-applying it a no-op —
at-least-once delivery plus idempotent updates gives effectively-once read models.
"""

from __future__ import annotations

import logging

from aiokafka import ConsumerRecord
from faststream import AckPolicy, FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from shared import mongo
from shared.events import EventEnvelope, upcast
from shared.observability.stream import instrument_faststream
from shared.settings import ProjectorSettings
from shared.topics import PRODUCTS

from projectors import catalog_products
from projectors.bulk import apply_updates

log = logging.getLogger(__name__)


def decode_batch(records: tuple[ConsumerRecord, ...]) -> list[EventEnvelope]:
    events = []
    for record in records:
        try:
            events.append(upcast(EventEnvelope.from_json(record.value)))
        except ValueError as exc:  # dead-lettering arrives with the projector issue
            log.error("skipping malformed event at %s/%s@%s: %s",
                      record.topic, record.partition, record.offset, exc)
    return events


def create_app(settings: ProjectorSettings | None = None) -> FastStream:
    settings = settings or ProjectorSettings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=log)
    resources: dict = {}

    @broker.subscriber(settings.topic(PRODUCTS), batch=True, group_id=f"{settings.group_id}.catalog_products",
                       auto_offset_reset="earliest", ack_policy=AckPolicy.NACK_ON_ERROR,
                       max_records=500, batch_timeout_ms=50)
    async def project_catalog(body: list, msg: KafkaMessage) -> None:
        events = decode_batch(msg.raw_message)
        updates = [u for e in events for u in catalog_products.project(e)]
        await apply_updates(resources["db"][catalog_products.COLLECTION], updates)

    async def open_resources() -> None:
        resources["client"] = mongo.open_mongo(settings)
        resources["db"] = mongo.database(resources["client"], settings)

    async def close_resources() -> None:
        await resources["client"].close()

    app = FastStream(broker, logger=log, on_startup=[open_resources], after_shutdown=[close_resources])
    return instrument_faststream(app, "projectors")
