"""Publication of committed events to Kafka: at-least-once, in version order per aggregate.

After an append the commit is handed to ``CommitPublisher.submit`` and the HTTP answer
goes out at once (202: accepted durably). One background task publishes submitted
commits in order and marks them published. If Kafka is down or the process dies first,
the commit stays ``published: false`` in the store and the relay publishes it later —
so an accepted command is never lost, and Kafka being down never fails a command.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from aiokafka import AIOKafkaProducer

from shared.events import utc_now
from shared.kafka import reliable_producer
from shared.settings import ServerSettings
from shared.topics import TOPIC_BY_AGGREGATE

from command_api.event_store import Commit, EventStore

log = logging.getLogger(__name__)


class CommitPublisher:
    def __init__(self, settings: ServerSettings, store: EventStore, *,
                 relay_interval: float = 1.0, relay_grace: float = 2.0, immediate: bool = True) -> None:
        self._settings, self._store, self._immediate = settings, store, immediate
        self._relay_interval, self._relay_grace = relay_interval, relay_grace
        self._producer: AIOKafkaProducer | None = None
        self._queue: asyncio.Queue[Commit] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task] = []
        self.published_commits = 0

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._drain(), name="publish-queue"),
                       asyncio.create_task(self._relay_forever(), name="outbox-relay")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    # -- publishing ------------------------------------------------------------------
    def submit(self, commit: Commit) -> None:
        """Queue a fresh commit for publication; never blocks the request."""
        if not self._immediate:
            return  # test-only: the relay publishes it
        try:
            self._queue.put_nowait(commit)
        except asyncio.QueueFull:
            pass  # the relay will publish it: it is durable in the store

    async def publish(self, commit: Commit) -> None:
        """Produce every event of a commit (acks=all), then mark the commit published."""
        producer = await self._ensure_producer()
        topic = self._settings.topic(TOPIC_BY_AGGREGATE[commit.aggregate_type])
        sends = [await producer.send(topic, e.to_json(), key=e.kafka_key(), headers=e.kafka_headers())
                 for e in commit.events]
        await asyncio.gather(*sends)
        await self._store.mark_published(commit.id)
        self.published_commits += 1

    async def relay_once(self) -> int:
        """Publish commits left unpublished (crash, Kafka outage). Returns how many."""
        pending = await self._store.unpublished(older_than=utc_now() - timedelta(seconds=self._relay_grace))
        for commit in pending:
            await self.publish(commit)
        return len(pending)

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = reliable_producer(self._settings)
            try:
                await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drain(self) -> None:
        while True:
            commit = await self._queue.get()
            try:
                await self.publish(commit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # left unpublished: the relay retries it
                log.warning("publish failed, relay will retry: %s", exc)
                await self._reset_producer()

    async def _relay_forever(self) -> None:
        while True:
            await asyncio.sleep(self._relay_interval)
            try:
                relayed = await self.relay_once()
                if relayed:
                    log.info("relay published %d commit(s)", relayed)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay pass failed: %s", exc)
                await self._reset_producer()

    async def _reset_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
