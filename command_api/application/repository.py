"""Loading aggregates and appending their pending events: load → decide → append.

**One append for the common command** (on MongoDB two round trips: the commit's outbox
entry, then the commit; ``command_api.adapters.outbox``). A new product's SKU claim runs
alongside the entry (``create(..., requires=)``), and a change that a new aggregate counts
on is appended with it as one chain (``change_then_create``: an order's last hold and
the order), so neither adds a round trip to the path. The chain is taken only when the
store is idle: in a batch with others it is written in waves (one more sequential insert
for the whole batch) and the changed aggregate stays locked until its last wave, so while
batches are in flight the change is appended alone and the new aggregate after the lock
is released, in a later batch. A process keeps the last state it saw of
recently changed aggregates and decides on it without reading: the append at
``version + 1`` is the check, since the unique ``(aggregate_id, version)`` refuses it if
another process appended meanwhile (``ConcurrencyConflict``: reload, decide again). So
a successful append is the only answer given without a read. Every other answer — a
refusal, a command that changes nothing, an ``If-Match`` mismatch — is decided again on
the store's latest state before it is given (one read of the events after the cached
version): a stale cache can cost a retry, never a wrong answer.

Writers of one aggregate in this process queue on a lock instead of racing (so they never
share a group commit), and optimistic concurrency decides between processes.

``DuplicateCommand`` (the command id already has a record: a retry, or a concurrent
duplicate in another process) is raised to the caller, which replays the earlier answer —
unless the record is the *binding* a failed attempt of the same request left (docs/api.md):
then the binding is removed and the command runs.
"""

from __future__ import annotations

import asyncio
import random
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from cachetools import LRUCache

from shared.events import EVENT_TYPES, EventEnvelope, current_version, decode_data

from command_api.application.ports import (
    Commit,
    ConcurrencyConflict,
    DuplicateCommand,
    EventStorePort,
    Intent,
    PartlyStored,
    PublisherPort,
    rebinds,
)
from command_api.domain.aggregate import Aggregate, Contended, DomainError, InvalidState, NotFound, VersionMismatch

A = TypeVar("A", bound=Aggregate)

# Ids derived from a command id are stable across retries of the same command.
_ID_NAMESPACE = uuid.UUID("6f1c2b7e-8a7d-4c1e-9a55-2d8f0c3e4b11")
MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class CommandContext:
    merchant_id: str
    command_id: str
    correlation_id: str
    # The request's fingerprint when the command id comes from an Idempotency-Key: the
    # command's own record (commit or outcome) carries it, so a replay can compare.
    fingerprint: str | None = None

    @property
    def keyed(self) -> bool:
        return self.fingerprint is not None

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
    envelopes = []
    for i, (event_type, data) in enumerate(aggregate.pending):
        assert event_type in EVENT_TYPES, f"{event_type} is a registered event type"
        envelopes.append(
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
                **({} if occurred_at is None else {"occurred_at": occurred_at}),
                **({} if event_ids is None else {"event_id": event_ids[i]}),
            )
        )
    return envelopes


@dataclass(frozen=True)
class Saved:
    """What a command left behind: the aggregate, its version after the command, and the
    commit (``None`` when nothing changed)."""

    aggregate_id: str
    version: int
    commit: Commit | None = None


class Repository:
    def __init__(self, store: EventStorePort, publisher: PublisherPort | None, cache_size: int = 10_000) -> None:
        """``publisher=None``: commits are left to the relay (CLI tools, tests)."""
        self._store, self._publisher = store, publisher
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._recent: LRUCache[str, Aggregate] = LRUCache(maxsize=cache_size)

    async def load(self, cls: type[A], aggregate_id: str, merchant_id: str) -> A | None:
        """The aggregate as stored, or ``None`` when it does not exist *for this merchant*."""
        return await self._caught_up(cls(aggregate_id, merchant_id))

    async def _caught_up(self, aggregate: A) -> A | None:
        """Apply the events appended after the aggregate's version; ``None`` if it is not
        an aggregate of this type and merchant."""
        for envelope in await self._store.load(aggregate.id, after_version=aggregate.version):
            if envelope.merchant_id != aggregate.merchant_id or envelope.aggregate_type != aggregate.aggregate_type:
                return None  # another merchant's: indistinguishable from absent
            aggregate.apply(envelope.type, decode_data(envelope))
        return aggregate if aggregate.exists else None

    async def create(
        self,
        aggregate: Aggregate,
        ctx: CommandContext,
        *,
        intent: Intent | None = None,
        publish: bool = True,
        requires: Callable[[], Awaitable[None]] | None = None,
    ) -> Saved:
        """Append a new aggregate's first commit (its id is new, or derived from the command
        id). ``requires``: a write it depends on (the SKU claim), overlapped by the store
        with its own preparation; the commit is stored only if that succeeded."""
        commit = self._commit(aggregate, ctx, ctx.command_id, intent)
        async with self._lock(aggregate.id):
            try:
                await self._store.append(commit, requires=requires)
            except (ConcurrencyConflict, DuplicateCommand) as refused:
                await self._created_after(refused, aggregate, commit, ctx)
            self._appended(aggregate, commit, publish)
        return Saved(aggregate.id, aggregate.version, commit)

    async def _created_after(
        self, refused: ConcurrencyConflict | DuplicateCommand, aggregate: Aggregate, commit: Commit, ctx: CommandContext
    ) -> None:
        """A new aggregate's first commit was refused: it exists already, or the command id
        has a record — the binding of this request's failed attempt is removed and the
        commit appended again; any other record is raised."""
        if isinstance(refused, ConcurrencyConflict):
            raise InvalidState(f"The {aggregate.aggregate_type} {aggregate.id} already exists.") from None
        if not rebinds(refused, ctx.command_id, ctx.fingerprint):
            raise refused
        await self._store.unbind(ctx.command_id, ctx.fingerprint)  # its failed attempt's binding
        await self._store.append(commit)

    async def change(
        self,
        cls: type[A],
        aggregate_id: str,
        ctx: CommandContext,
        decide: Callable[[A], None],
        *,
        expected_version: int | None = None,
        command_id: str | None = None,
        intent: Callable[[A], Intent] | None = None,
        publish: bool = True,
    ) -> Saved:
        """Decide on the latest state known here and append; see the module docstring for
        what is read when. With ``If-Match`` (``expected_version``) a conflict reloads and
        answers 412 with the current version."""
        saved, _ = await self._change(
            cls, aggregate_id, ctx, decide, expected_version, command_id or ctx.command_id, intent, publish, None
        )
        return saved

    async def change_then_create(
        self,
        cls: type[A],
        aggregate_id: str,
        ctx: CommandContext,
        decide: Callable[[A], None],
        then: Callable[[A], Aggregate],
        *,
        command_id: str,
        intent: Callable[[A], Intent] | None = None,
        stored: Callable[[Saved], None] = lambda _: None,
    ) -> tuple[Saved, Saved | None]:
        """``change``, and in the same append a new aggregate that counts on it (a hold,
        then the order; ``then`` builds it from the changed aggregate, and may refuse):
        the store writes the two as a chain — the new one only if the change was stored —
        so a lone order waits for one append, not two. ``stored`` is told of the change as
        soon as it is stored, before the new aggregate's fate is known (which is then
        that of ``create``: refused if it exists, replayed if its command id has a record).
        A change that changes nothing appends nothing: then no new aggregate (``None``)."""
        return await self._change(cls, aggregate_id, ctx, decide, None, command_id, intent, True, _Then(then, stored))

    async def _change(
        self,
        cls: type[A],
        aggregate_id: str,
        ctx: CommandContext,
        decide: Callable[[A], None],
        expected_version: int | None,
        command_id: str,
        intent: Callable[[A], Intent] | None,
        publish: bool,
        then: _Then[A] | None,
    ) -> tuple[Saved, Saved | None]:
        async with self._lock(aggregate_id):
            aggregate, fresh = self._cached(cls, aggregate_id, ctx.merchant_id), False
            if aggregate is None:
                aggregate, fresh = await self.load(cls, aggregate_id, ctx.merchant_id), True
            for attempt in range(MAX_ATTEMPTS):
                if aggregate is None:
                    raise NotFound(f"No {cls.aggregate_type} {aggregate_id}.")
                follower: Aggregate | None = None
                try:
                    _check_version(aggregate, expected_version)
                    decide(aggregate)  # a refusal raises before recording anything
                    if then is not None and aggregate.pending:
                        follower = then.build(aggregate)
                except DomainError:
                    if aggregate.pending:  # decided, then refused by ``then``: a state not to keep
                        self._recent.pop(aggregate_id, None)
                        if fresh:
                            raise
                        aggregate, fresh = await self.load(cls, aggregate_id, ctx.merchant_id), True
                        continue
                    if fresh:
                        self._recent[aggregate_id] = aggregate
                        raise
                    aggregate, fresh = await self._caught_up(aggregate), True
                    continue
                if not aggregate.pending:  # nothing to change: the answer is the current version
                    if fresh:
                        self._recent[aggregate_id] = aggregate
                        return Saved(aggregate.id, aggregate.version), None
                    aggregate, fresh = await self._caught_up(aggregate), True
                    continue
                commit = self._commit(aggregate, ctx, command_id, intent(aggregate) if intent else None)
                created = None if follower is None else self._commit(follower, ctx, ctx.command_id, None)
                # One chain only when the store is idle (it goes alone: two round trips);
                # while batches are in flight the change goes alone and the new commit is
                # appended after this lock is released, in a later batch (module docstring).
                chained = created is not None and self._store.idle()
                try:
                    refused = None
                    if chained and created is not None:  # the new commit is stored only if this one is
                        try:
                            await self._store.append_chain([commit, created])
                        except PartlyStored as cut:  # the change is stored; the new commit was refused
                            refused = cut.error
                    else:
                        await self._store.append(commit)
                except ConcurrencyConflict:  # decided on a state another writer moved past
                    self._recent.pop(aggregate_id, None)
                    if attempt:  # several processes keep changing it: spread the retries
                        await asyncio.sleep(random.uniform(0, 0.002 * attempt))
                    aggregate, fresh = await self.load(cls, aggregate_id, ctx.merchant_id), True
                    continue
                except DuplicateCommand as dup:
                    self._recent.pop(aggregate_id, None)
                    if not rebinds(dup, command_id, ctx.fingerprint):
                        raise
                    await self._store.unbind(command_id, ctx.fingerprint)  # its failed attempt's binding
                    aggregate, fresh = await self.load(cls, aggregate_id, ctx.merchant_id), True
                    continue
                except BaseException:
                    self._recent.pop(aggregate_id, None)  # decided but not appended: state unknown
                    raise
                self._appended(aggregate, commit, publish)
                saved = Saved(aggregate.id, aggregate.version, commit)
                if follower is None or created is None or then is None:
                    return saved, None
                then.stored(saved)
                if chained:
                    return saved, await self._follow(follower, created, refused, ctx)
                break
            else:
                raise Contended(f"The {cls.aggregate_type} is being changed by many writers; retry.")
        # The change is stored and its aggregate free for the next writer; now the new one.
        assert follower is not None and created is not None
        return saved, await self._follow(follower, created, None, ctx, append=True)

    async def _follow(
        self,
        follower: Aggregate,
        created: Commit,
        refused: Exception | None,
        ctx: CommandContext,
        *,
        append: bool = False,
    ) -> Saved:
        """The new aggregate of a chain, its change stored: appended, or refused as ``create``
        refuses. ``append``: not chained; appended now (the change is stored)."""
        async with self._lock(follower.id):
            if append:
                try:
                    await self._store.append(created)
                except (ConcurrencyConflict, DuplicateCommand) as exc:
                    refused = exc
            if isinstance(refused, ConcurrencyConflict | DuplicateCommand):
                await self._created_after(refused, follower, created, ctx)
            elif refused is not None:
                raise refused
            self._appended(follower, created, True)
        return Saved(follower.id, follower.version, created)

    def forget(self, aggregate_id: str) -> None:
        """Drop the cached state (the next command reads the aggregate from the store)."""
        self._recent.pop(aggregate_id, None)

    def _cached(self, cls: type[A], aggregate_id: str, merchant_id: str) -> A | None:
        recent = self._recent.get(aggregate_id)
        return recent if isinstance(recent, cls) and recent.merchant_id == merchant_id else None

    def _commit(self, aggregate: Aggregate, ctx: CommandContext, command_id: str, intent: Intent | None) -> Commit:
        return Commit(
            aggregate_type=aggregate.aggregate_type,
            aggregate_id=aggregate.id,
            merchant_id=ctx.merchant_id,
            command_id=command_id,
            events=pending_envelopes(aggregate, ctx.merchant_id, ctx.correlation_id, command_id),
            fingerprint=ctx.fingerprint if command_id == ctx.command_id else None,
            intent=intent,
        )

    def _appended(self, aggregate: Aggregate, commit: Commit, publish: bool) -> None:
        aggregate.pending.clear()
        self._recent[aggregate.id] = aggregate
        if publish and self._publisher is not None:
            self._publisher.submit(commit)

    def _lock(self, aggregate_id: str) -> asyncio.Lock:
        lock = self._locks.get(aggregate_id)
        if lock is None:
            lock = self._locks[aggregate_id] = asyncio.Lock()
        return lock


@dataclass(frozen=True)
class _Then(Generic[A]):
    build: Callable[[A], Aggregate]
    stored: Callable[[Saved], None]


def _check_version(aggregate: Aggregate, expected: int | None) -> None:
    if expected is not None and aggregate.version != expected:
        raise VersionMismatch(
            f"The {aggregate.aggregate_type} is at version {aggregate.version}, not {expected}.",
            current_version=aggregate.version,
        )
