"""Loading aggregates from the event store and appending their pending events."""

from __future__ import annotations

import asyncio
import random
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from cachetools import LRUCache

from shared.events import EVENT_TYPES, EventEnvelope, current_version, decode_data

from command_api.application.ports import Commit, ConcurrencyConflict, DuplicateCommand, EventStorePort, PublisherPort
from command_api.domain.aggregate import Aggregate, Contended, DomainError, NotFound, VersionMismatch

A = TypeVar("A", bound=Aggregate)

# Ids derived from a command id are stable across retries of the same command.
_ID_NAMESPACE = uuid.UUID("6f1c2b7e-8a7d-4c1e-9a55-2d8f0c3e4b11")
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class CommandContext:
    merchant_id: str
    command_id: str
    correlation_id: str
    # True when the command id comes from an Idempotency-Key: a retry may find it committed.
    keyed: bool = False

    def new_aggregate_id(self) -> str:
        return str(uuid.uuid5(_ID_NAMESPACE, self.command_id))

    def sub_command(self, suffix: str) -> str:
        """A stable command id for one step of a multi-aggregate command."""
        return f"{self.command_id}:{suffix}"


def pending_envelopes(
    aggregate: Aggregate,
    merchant_id: str,
    correlation_id: str,
    causation_id: str,
    *,
    occurred_at: datetime | None = None,
    event_ids: list[uuid.UUID] | None = None,
) -> list[EventEnvelope]:
    """The aggregate's pending events in their envelopes, versions following its history.

    ``occurred_at`` and ``event_ids`` default to now and random ids; the seeder passes
    backdated times and ids drawn from its seeded generator (``command_api.seeding``).
    """
    first = aggregate.version - len(aggregate.pending) + 1
    stamp = {} if occurred_at is None else {"occurred_at": occurred_at}
    envelopes = [
        EventEnvelope(
            type=event_type,
            schema_version=current_version(event_type),
            aggregate_type=aggregate.aggregate_type,
            aggregate_id=aggregate.id,
            aggregate_version=first + i,
            merchant_id=merchant_id,
            correlation_id=correlation_id,
            causation_id=causation_id,
            data=data.model_dump(mode="json"),
            **stamp,
            **({} if event_ids is None else {"event_id": event_ids[i]}),
        )
        for i, (event_type, data) in enumerate(aggregate.pending)
    ]
    assert all(e.type in EVENT_TYPES for e in envelopes), "every event type is registered"
    return envelopes


@dataclass(frozen=True)
class Saved:
    """What a command left behind: the aggregate and its version after the command."""

    aggregate_id: str
    version: int


class Repository:
    def __init__(self, store: EventStorePort, publisher: PublisherPort | None, cache_size: int = 10_000) -> None:
        """``publisher=None`` (CLI tools): commits are left to the relay of a running API."""
        self._store, self._publisher = store, publisher
        # Writers of one aggregate in this process queue instead of racing: optimistic
        # concurrency still decides between processes, but retries stay rare.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        # The last state this process saw of recently changed aggregates: a command reads
        # only the commits appended since (by any process), not the whole history.
        self._recent: LRUCache[str, Aggregate] = LRUCache(maxsize=cache_size)

    async def load(self, cls: type[A], aggregate_id: str, merchant_id: str) -> A | None:
        """The aggregate, or ``None`` when it does not exist *for this merchant*."""
        return await self._catch_up(cls(aggregate_id, merchant_id))

    async def _catch_up(self, aggregate: A) -> A | None:
        """Apply the events appended after the aggregate's version; ``None`` if it is not
        an aggregate of this type and merchant."""
        for envelope in await self._store.load(aggregate.id, after_version=aggregate.version):
            if envelope.merchant_id != aggregate.merchant_id or envelope.aggregate_type != aggregate.aggregate_type:
                return None  # another merchant's: indistinguishable from absent
            aggregate.apply(envelope.type, decode_data(envelope))
        return aggregate if aggregate.exists else None

    async def _load_for_change(self, cls: type[A], aggregate_id: str, merchant_id: str) -> A | None:
        recent = self._recent.pop(aggregate_id, None)  # taken out: put back only after a success
        if isinstance(recent, cls) and recent.merchant_id == merchant_id:
            if await self._store.head(aggregate_id) <= recent.version:
                return recent  # nothing newer is known: skip the (on FerretDB, scanning) query
            return await self._catch_up(recent)
        return await self.load(cls, aggregate_id, merchant_id)

    async def save(self, aggregate: Aggregate, ctx: CommandContext, command_id: str | None = None) -> Saved:
        """Append the pending events as one commit and queue it for Kafka.

        A command already committed (a retry after a crash) returns its earlier commit.
        """
        command_id = command_id or ctx.command_id
        envelopes = pending_envelopes(aggregate, ctx.merchant_id, ctx.correlation_id, command_id)
        commit = Commit(
            aggregate_type=aggregate.aggregate_type,
            aggregate_id=aggregate.id,
            merchant_id=ctx.merchant_id,
            command_id=command_id,
            events=envelopes,
        )
        try:
            commit = await self._store.append(commit)
        except DuplicateCommand as dup:
            return Saved(dup.commit.aggregate_id, dup.commit.last_version)
        aggregate.pending.clear()
        if self._publisher is not None:
            self._publisher.submit(commit)
        return Saved(commit.aggregate_id, commit.last_version)

    async def committed(self, command_id: str) -> Saved | None:
        """What an already-committed command left behind (a retry after a crash)."""
        earlier = await self._store.find_by_command(command_id)
        return Saved(earlier.aggregate_id, earlier.last_version) if earlier else None

    async def change(
        self,
        cls: type[A],
        aggregate_id: str,
        ctx: CommandContext,
        decide: Callable[[A], None],
        *,
        expected_version: int | None = None,
        command_id: str | None = None,
    ) -> Saved:
        """Load, decide, append — retried on a concurrent write unless the client pinned
        the version with ``If-Match`` (then a conflict is a 412)."""
        command_id = command_id or ctx.command_id
        if ctx.keyed and (earlier := await self.committed(command_id)):
            return earlier
        for attempt in range(MAX_ATTEMPTS):
            async with self._lock(aggregate_id):
                aggregate = await self._load_for_change(cls, aggregate_id, ctx.merchant_id)
                if aggregate is None:
                    raise NotFound(f"No {cls.aggregate_type} {aggregate_id}.")
                if expected_version is not None and aggregate.version != expected_version:
                    raise VersionMismatch(
                        f"The {cls.aggregate_type} is at version {aggregate.version}, not {expected_version}.",
                        current_version=aggregate.version,
                    )
                try:
                    decide(aggregate)
                except DomainError:
                    self._recent[aggregate_id] = aggregate  # refusals raise before recording anything
                    raise
                if not aggregate.pending:  # nothing to change: answer the current version
                    self._recent[aggregate_id] = aggregate
                    return Saved(aggregate.id, aggregate.version)
                try:
                    saved = await self.save(aggregate, ctx, command_id)
                except ConcurrencyConflict:
                    if expected_version is not None:
                        raise VersionMismatch(f"The {cls.aggregate_type} changed meanwhile.") from None
                else:
                    if not aggregate.pending:  # appended (not a duplicate): this state is the store's
                        self._recent[aggregate_id] = aggregate
                    return saved
            await asyncio.sleep(random.uniform(0, 0.005 * (attempt + 1)))  # another writer won
        raise Contended(f"The {cls.aggregate_type} is being changed by many writers; retry.")

    def _lock(self, aggregate_id: str) -> asyncio.Lock:
        lock = self._locks.get(aggregate_id)
        if lock is None:
            lock = self._locks[aggregate_id] = asyncio.Lock()
        return lock
