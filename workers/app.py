"""The worker process. Job kinds register their subscribers here as they are built."""

from __future__ import annotations

import logging

from faststream import FastStream
from faststream.kafka import KafkaBroker

from shared.observability.stream import instrument_faststream
from shared.settings import WorkerSettings

from workers import activity

log = logging.getLogger(__name__)


def create_app(settings: WorkerSettings | None = None) -> FastStream:
    settings = settings or WorkerSettings()
    broker = KafkaBroker(settings.kafka_bootstrap_servers, logger=log)
    activity.register(broker, settings)
    return instrument_faststream(FastStream(broker, logger=log), "workers")
