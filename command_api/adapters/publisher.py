"""Publication of committed events to Kafka: at-least-once, in version order per aggregate.

After an append the commit is handed to ``CommitPublisher.submit`` and the HTTP answer
goes out at once (202: accepted durably). One background task drains the queue in
batches: it produces every event of the batch (pipelined, idempotent producer,
``acks=all``, key = aggregate id) and waits for the acks. Marking commits published is
bookkeeping for the relay, so it is gathered: one ``mark_published`` (on MongoDB a
``delete_many`` of outbox entries, ``command_api.adapters.outbox``) for what was produced
within ``MARK_DELAY`` (or ``MARK_BATCH`` commits) — with the commits ``settle`` reported
done (a commit carrying an intent is produced at once, marked when its work is done).
The mark is never on a command's path, and a lone command's mark rides with whatever
else is marked within ``MARK_DELAY``. A commit is marked only after Kafka acked it.
Until marked, a commit is *in hand* and the relay leaves it alone, however old.
A crash between the ack and the mark, or a mark that fails (logged; the commits leave
the hand), only makes the relay publish it again: at-least-once, the same event ids
(projections are version-guarded; workers key their jobs by event id).
Tested by tests/integration/test_published_mark.py.

If Kafka is down or the process dies first, the commits stay unpublished (their outbox
entries stay) and the relay (``command_api.application.relay``) publishes them later — so an
accepted command is never lost, and Kafka being down never fails a command. After a
failure the publisher is *degraded*: newer commits must not overtake the ones that
failed, so until a relay pass finds nothing left only the relay publishes (in version
order), and the queue is emptied.

**Poison.** A commit Kafka refuses because of itself (larger than the producer's
``max_request_size``, no topic for its aggregate type: the producer says so before
sending) is not produced, nor is any later commit of its aggregate in the same call;
``publish`` returns it and produces the others — it is no broker failure, so nothing is
degraded. The relay parks its aggregate; ``hold`` keeps the parked aggregates' new
commits off the immediate path, so none overtakes it.

**Topics.** At start (in the background: Kafka down must not keep the API from serving)
the publisher makes sure the domain topics exist and connects its producer; a producer
made later (after a failure) checks the topics again first, so a broker that was down at
start, or lost its topics, gets them before our first event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from bson import ObjectId

from shared.kafka import ensure_topics, reliable_producer
from shared.settings import ServerSettings
from shared.topics import TOPIC_BY_AGGREGATE

from command_api.application.ports import Commit, OutboxPort

log = logging.getLogger(__name__)


class UnknownTopic(ValueError):
    """A commit of an aggregate type no topic is for (a document written by other code)."""


POISON = (MessageSizeTooLargeError, UnknownTopic)  # refusals of the commit itself, not of the broker

Queued = Commit | list[ObjectId]  # a commit to produce, or ids to mark (``settle``)
MARK_DELAY = 0.2  # seconds a produced commit may wait for its mark, gathered with others
MARK_BATCH = 1000  # ... or fewer, when this many wait


class CommitPublisher:
    def __init__(
        self,
        settings: ServerSettings,
        outbox: OutboxPort,
        *,
        immediate: bool = True,
        timeout: float = 15.0,
        on_activity: Callable[[], None] = lambda: None,
    ) -> None:
        """``immediate=False`` (a test-only switch) leaves every commit to the relay.
        ``on_activity`` is called on every submit and failure (the relay's ``nudge``)."""
        self._settings, self._outbox, self._immediate = settings, outbox, immediate
        self._timeout, self.on_activity = timeout, on_activity
        self._producer: AIOKafkaProducer | None = None
        self._queue: asyncio.Queue[Queued] = asyncio.Queue(maxsize=10_000)
        self._task: asyncio.Task[None] | None = None
        self._publishing = asyncio.Lock()
        self._degraded = False
        self._queued: set[ObjectId] = set()  # queued or being produced: the relay leaves them
        self._held: set[str] = set()  # parked aggregates: their commits are the relay's
        self._refused: set[str] = set()  # aggregates with a commit refused here, not yet seen parked
        self._to_mark: dict[ObjectId, None] = {}  # produced (or settled), mark pending: likewise
        self._marking: asyncio.Task[None] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self.published_commits = 0

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._task = asyncio.create_task(self._drain(), name="publish-queue")
        self._connecting = asyncio.create_task(self._connect(), name="kafka-topics")

    async def stop(self) -> None:
        for task in (self._task, self._marking, self._connecting):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._marking = self._connecting = None
        with contextlib.suppress(Exception):  # what is left unmarked, the relay publishes again
            await self._mark()
        await self._reset_producer()

    # -- the request path: queue and return ----------------------------------------------
    def submit(self, commit: Commit) -> None:
        self.on_activity()
        if self._immediate and not self._degraded and self._task is not None and commit.aggregate_id not in self._held:
            self._enqueue(commit)

    def hold(self, aggregate_ids: set[str]) -> None:
        self._refused -= aggregate_ids  # parked now: the store says whether they stay held
        self._held = aggregate_ids | self._refused

    def settle(self, commit_ids: Sequence[ObjectId]) -> None:
        if self._immediate and not self._degraded and self._task is not None:
            self._enqueue(list(commit_ids))

    def _enqueue(self, item: Queued) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            return  # the relay will publish it: it is durable in the store
        self._queued.update([item.id] if isinstance(item, Commit) else item)

    def in_hand(self, commit_id: ObjectId) -> bool:
        return commit_id in self._queued or commit_id in self._to_mark

    # -- publishing ------------------------------------------------------------------
    @property
    def degraded(self) -> bool:
        return self._degraded

    def caught_up(self) -> None:
        if self._degraded:
            log.info("Kafka publishing recovered; publishing right after the append again")
            self._degraded = False

    async def publish(self, commits: Sequence[Commit], settle: Sequence[ObjectId] = ()) -> dict[ObjectId, str]:
        """Produce every event of the commits (acks=all); the settled ones and ``settle``
        are then marked published with the next gathered mark. One lock serialises the
        queue and the relay, so they never interleave an aggregate's events; sends are
        pipelined and awaited together (per-partition order is kept by the idempotent
        producer)."""
        refused: dict[ObjectId, str] = {}
        async with self._publishing:
            if commits:
                produced, refused = await self._produce(commits)
                if refused:  # neither those nor the later commits of their aggregates went
                    left = {c.id for c in commits} - {c.id for c in produced}
                    settle = [i for i in settle if i not in left]
                    self._refused.update(c.aggregate_id for c in commits if c.id in refused)
                    self._held |= self._refused
                commits = produced
            self.published_commits += len(commits)
        self._to_mark.update(dict.fromkeys([*(c.id for c in commits if c.settled), *settle]))
        if len(self._to_mark) >= MARK_BATCH:
            await self._mark()
        elif self._to_mark and self._marking is None:
            self._marking = asyncio.create_task(self._mark_soon(), name="mark-published")
        return refused

    async def _mark_soon(self) -> None:
        try:
            while self._to_mark:
                await asyncio.sleep(MARK_DELAY)
                try:
                    await self._mark()
                except Exception as exc:  # left unmarked: the relay publishes them again
                    log.warning("marking commits published failed: %s", exc)
        finally:
            self._marking = None

    async def _mark(self) -> None:
        ids = list(self._to_mark)
        if not ids:
            return
        try:
            await self._outbox.mark_published(ids)
        finally:
            for commit_id in ids:
                self._to_mark.pop(commit_id, None)

    async def _produce(self, commits: Sequence[Commit]) -> tuple[list[Commit], dict[ObjectId, str]]:
        """Returns the commits produced and those refused as poison (see the module docstring)."""
        produced: list[Commit] = []
        refused: dict[ObjectId, str] = {}
        stopped: set[str] = set()  # aggregates with a refused commit in this call
        try:
            # aiokafka keeps retrying a batch while the broker is away; give up in bounded
            # time so the failure is seen and the relay takes over.
            async with asyncio.timeout(self._timeout):
                producer = await self._ensure_producer()
                sends = []
                for commit in commits:
                    if commit.aggregate_id in stopped:
                        continue
                    try:
                        sends += await self._send(producer, commit)
                    except POISON as exc:
                        refused[commit.id] = f"{type(exc).__name__}: {exc}"[:500]
                        stopped.add(commit.aggregate_id)
                        continue
                    produced.append(commit)
                await asyncio.gather(*sends)
        except Exception:
            self._fail()
            await self._reset_producer()
            raise
        return produced, refused

    async def _send(self, producer: AIOKafkaProducer, commit: Commit) -> list[asyncio.Future[Any]]:
        """Check every event of the commit first (so none of a refused commit is sent), then send."""
        aggregate_type = TOPIC_BY_AGGREGATE.get(commit.aggregate_type)
        if aggregate_type is None:
            raise UnknownTopic(f"no topic for aggregate type {commit.aggregate_type!r}")
        topic = self._settings.topic(aggregate_type)
        messages = [
            (e.kafka_key(), body, e.kafka_headers())
            for e, body in zip(commit.events, commit.event_bodies(), strict=True)
        ]
        limit = producer._max_request_size  # what send() checks, one event at a time
        for key, body, headers in messages:
            size = DefaultRecordBatchBuilder.estimate_size_in_bytes(key, body, headers)
            if size > limit:
                raise MessageSizeTooLargeError(f"an event of {size} bytes; the producer takes at most {limit}")
        return [await producer.send(topic, body, key=key, headers=headers) for key, body, headers in messages]

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            if self._degraded:
                continue  # the relay owns publication until it caught up
            commits = [item for item in batch if isinstance(item, Commit)]
            settled = [i for item in batch if isinstance(item, list) for i in item]
            try:
                refused = await self.publish(commits, settle=settled)
                if refused:  # the relay parks their aggregates
                    log.warning("%d commit(s) refused by Kafka, left to the relay: %s", len(refused), refused)
                    self.on_activity()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # left unpublished: the relay retries it
                log.warning("publish failed, the relay takes over: %s", exc)
            finally:
                self._queued.difference_update([*(c.id for c in commits), *settled])

    def _fail(self) -> None:
        if not self._degraded:
            self._degraded = True
            while not self._queue.empty():
                self._queue.get_nowait()
            self._queued.clear()
        self.on_activity()

    async def _connect(self) -> None:
        """The topics and the producer, ready before the first command (best effort)."""
        try:
            async with self._publishing, asyncio.timeout(self._timeout):
                await self._ensure_producer()
        except Exception as exc:  # the first publication tries again (and the relay after it)
            log.warning("Kafka not ready at start (topics, producer): %s", exc)
            await self._reset_producer()

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            await ensure_topics(self._settings)  # a no-op when they exist (one metadata call)
            producer = reliable_producer(self._settings)
            try:
                await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _reset_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None
