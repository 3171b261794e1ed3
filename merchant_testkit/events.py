"""What was published: a recorder of the session's domain topics, for assertions.

It reads every partition of the domain topics from the beginning without joining a
consumer group (so it never steals partitions from the projectors), keeps the envelopes
as they were published, and lets a test wait until the events it expects are there.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiokafka import AIOKafkaConsumer

from shared.events import EventEnvelope
from shared.settings import ServerSettings
from shared.topics import DOMAIN_TOPICS

from merchant_testkit.waiting import NotReached, wait_until


def matches(event: EventEnvelope, event_type: str | None, data: dict[str, Any] | None, fields: dict[str, Any]) -> bool:
    """Type, envelope fields equal, and ``data`` a subset of the body."""
    if event_type is not None and event.type != event_type:
        return False
    if any(getattr(event, name) != value for name, value in fields.items()):
        return False
    return all(event.data.get(key) == value for key, value in (data or {}).items())


class PublishedEvents:
    def __init__(self, settings: ServerSettings) -> None:
        self._settings = settings
        self.events: list[EventEnvelope] = []
        self.malformed = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> PublishedEvents:
        self._consumer = AIOKafkaConsumer(
            *(self._settings.topic(t) for t in DOMAIN_TOPICS),
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await self._consumer.start()
        self._task = asyncio.create_task(self._record(), name="published-events")
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _record(self) -> None:
        async for record in self._consumer:
            try:
                self.events.append(EventEnvelope.from_json(record.value))
            except ValueError:  # suites publish malformed messages on purpose (dead letters)
                self.malformed += 1

    def matching(
        self, event_type: str | None = None, *, data: dict[str, Any] | None = None, **fields: Any
    ) -> list[EventEnvelope]:
        """Events seen so far of ``event_type`` whose envelope fields equal ``fields``
        (e.g. ``aggregate_id=...``) and whose body contains ``data``."""
        return [e for e in self.events if matches(e, event_type, data, fields)]

    async def assert_published(
        self,
        event_type: str | None = None,
        *,
        count: int = 1,
        timeout: float = 15.0,
        data: dict[str, Any] | None = None,
        **fields: Any,
    ) -> list[EventEnvelope]:
        """Wait until at least ``count`` such events were published; return them all.

        Fails with the list of what *was* published, which is what one needs to debug.
        """
        try:
            return await wait_until(
                lambda: self._matching_now(event_type, data, fields),
                lambda found: len(found) >= count,
                timeout=timeout,
                what=f"{count} x {event_type or 'event'} {fields or ''}",
            )
        except NotReached:
            seen = ", ".join(f"{e.type}({e.aggregate_id}@{e.aggregate_version})" for e in self.events[-20:])
            raise AssertionError(
                f"expected {count} x {event_type} matching {fields} data={data} "
                f"within {timeout}s; last published: {seen or 'nothing'}"
            ) from None

    async def _matching_now(self, event_type, data, fields) -> list[EventEnvelope]:
        return self.matching(event_type, data=data, **fields)
