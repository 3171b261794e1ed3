"""A stream subscriber's batch limit, retuned between two batches.

``BatchBound`` times each batch the handler applies, asks the stream's
``projectors.application.batch_limit.BatchLimit`` for the next limit, hands it to the
FastStream subscriber and shows it as ``merchant_projector_batch_limit{stream}``.
``PROJECTOR_BATCH_SECONDS=0`` pins the limit at ``PROJECTOR_BATCH_SIZE`` (no retuning).

The one coupling to FastStream's internals is ``set_max_records``: FastStream 0.7.8's
``BatchSubscriber.get_msg`` passes ``self.max_records`` to ``AIOKafkaConsumer.getmany`` on
every poll, and polls only once the previous batch's handler has returned, so a value set
by the handler bounds the very next batch. ``tests/unit/test_batch_limit.py`` fails if a
FastStream upgrade stops reading it; the integration test
(``tests/integration/test_projector_batch_limit.py``) counts the records per batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from faststream.kafka.subscriber.usecase import BatchSubscriber

from shared.observability import metrics
from shared.settings import ProjectorSettings

from projectors.application.batch_limit import BatchLimit


def set_max_records(subscriber: BatchSubscriber, limit: int) -> None:
    """The most records the subscriber's next poll may return (see the module docstring)."""
    subscriber.max_records = limit


@dataclass
class BatchBound:
    stream: str
    limit: BatchLimit
    subscriber: BatchSubscriber | None = None  # attached once ``broker.subscriber`` made it

    @classmethod
    def of(cls, settings: ProjectorSettings, stream: str) -> BatchBound:
        if settings.batch_seconds:
            limit = BatchLimit(target=settings.batch_seconds, ceiling=settings.batch_size)
        else:  # retuning off: the floor is the ceiling, so every batch may hold batch_size
            limit = BatchLimit(target=math.inf, ceiling=settings.batch_size, floor=settings.batch_size)
        bound = cls(stream, limit)
        metrics.projector_batch_limit.labels(stream).set(bound.limit.limit)
        return bound

    @property
    def current(self) -> int:
        return self.limit.limit

    def attach(self, subscriber: BatchSubscriber) -> None:
        self.subscriber = subscriber
        set_max_records(subscriber, self.current)

    @asynccontextmanager
    async def timing(self, events: int) -> AsyncIterator[None]:
        """Apply one batch of ``events`` records; then retune the next poll to its time."""
        began = time.perf_counter()
        try:
            yield
        except BaseException:
            self._apply(self.limit.after_failure(events, time.perf_counter() - began))
            raise
        self._apply(self.limit.after(events, time.perf_counter() - began))

    def _apply(self, limit: int) -> None:
        if self.subscriber is not None:
            set_max_records(self.subscriber, limit)
        metrics.projector_batch_limit.labels(self.stream).set(limit)
