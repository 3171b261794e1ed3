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

from command_api.adapters.event_store import EventStore
from command_api.application.ports import Commit

log = logging.getLogger(__name__)


class CommitPublisher:
    def __init__(
        self,
        settings: ServerSettings,
        store: EventStore,
        *,
        relay_interval: float = 1.0,
        relay_grace: float = 2.0,
        immediate: bool = True,
        timeout: float = 15.0,
    ) -> None:
        self._settings, self._store, self._immediate = settings, store, immediate
        self._relay_interval, self._relay_grace = relay_interval, relay_grace
        self._producer: AIOKafkaProducer | None = None
        self._queue: asyncio.Queue[Commit] = asyncio.Queue(maxsize=10_000)
        self._tasks: list[asyncio.Task] = []
        self.published_commits = 0
        self._publishing = asyncio.Lock()
        self._timeout = timeout
        self._degraded = False

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._drain(), name="publish-queue"),
            asyncio.create_task(self._relay_forever(), name="outbox-relay"),
        ]

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
        if not self._immediate or self._degraded:
            return  # the relay publishes it (test-only switch, or recovering from a failure)
        try:
            self._queue.put_nowait(commit)
        except asyncio.QueueFull:
            pass  # the relay will publish it: it is durable in the store

    async def publish(self, *commits: Commit) -> None:
        """Produce every event of the commits (acks=all), then mark them published.

        One lock serialises the queue and the relay, so they never interleave an
        aggregate's events; sends are pipelined and awaited together (per-partition
        order is kept by the idempotent producer).
        """
        async with self._publishing:
            # aiokafka keeps retrying a batch while the broker is away; give up in bounded
            # time so the failure is seen, the producer reset and the relay takes over.
            async with asyncio.timeout(self._timeout):
                producer = await self._ensure_producer()
                sends = [
                    await producer.send(
                        self._settings.topic(TOPIC_BY_AGGREGATE[c.aggregate_type]),
                        e.to_json(),
                        key=e.kafka_key(),
                        headers=e.kafka_headers(),
                    )
                    for c in commits
                    for e in c.events
                ]
                await asyncio.gather(*sends)
            await self._store.mark_published([c.id for c in commits])
            self.published_commits += len(commits)

    async def relay_once(self) -> int:
        """Publish commits left unpublished (crash, Kafka outage), each aggregate's in
        version order. Returns how many."""
        grace = 0 if self._degraded else self._relay_grace
        pending = await self._store.unpublished(older_than=utc_now() - timedelta(seconds=grace))
        if pending:
            await self.publish(*pending)
            for commit in pending:  # a writer may have died before moving its head
                await self._store.advance_head(commit.aggregate_id, commit.last_version)
        elif self._degraded:
            log.info("Kafka publishing recovered; publishing right after the append again")
            self._degraded = False
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
            if self._degraded:
                continue  # the relay owns publication until it caught up
            try:
                await self.publish(commit)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # left unpublished: the relay retries it
                log.warning("publish failed, the relay takes over: %s", exc)
                self._enter_degraded()
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
                self._enter_degraded()
                await self._reset_producer()

    def _enter_degraded(self) -> None:
        """After a failure, newer commits must not overtake the ones that failed: until
        a relay pass finds nothing left, only the relay publishes (in version order)."""
        self._degraded = True
        while not self._queue.empty():
            self._queue.get_nowait()

    async def _reset_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
