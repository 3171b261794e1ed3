"""The event store in memory: ``EventStorePort`` and ``OutboxPort`` with the MongoDB
adapter's rules — unique ``(aggregate_id, first version)``, unique ``command_id`` across
commits and outcomes, each member of a batch accepted or refused on its own — and none of
its durability. Single event loop, no awaits inside a write: every write is atomic."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from bson import ObjectId

from shared.events import EventEnvelope

from command_api.application.ports import (
    Commit,
    ConcurrencyConflict,
    DuplicateCommand,
    Outcome,
    PartlyStored,
    Record,
)


class InMemoryEventStore:
    def __init__(self) -> None:
        self.records: dict[ObjectId, Record] = {}  # in append order
        self._by_command: dict[str, Record] = {}
        self._versions: set[tuple[str, int]] = set()
        self._expiring: set[ObjectId] = set()
        self.batches = 0  # how many append_batch calls: what a group commit would have saved

    async def load(self, aggregate_id: str, after_version: int = 0) -> list[EventEnvelope]:
        commits = sorted(
            (r for r in self.records.values() if isinstance(r, Commit) and r.aggregate_id == aggregate_id),
            key=lambda c: c.version,
        )
        return [e for c in commits if c.version > after_version for e in c.events]

    async def append(self, record: Record, *, requires: Callable[[], Awaitable[None]] | None = None) -> None:
        if requires is not None:
            await requires()
        (error,) = await self.append_batch([record])
        if error is not None:
            raise error

    async def append_chain(self, records: Sequence[Record]) -> None:
        self.batches += 1
        for stored, record in enumerate(records):
            if (error := self._insert(record)) is not None:
                raise error if stored == 0 else PartlyStored(stored, error)

    def idle(self) -> bool:
        return True  # nothing is ever in flight: every append is written at once

    async def append_batch(self, records: Sequence[Record]) -> list[Exception | None]:
        self.batches += 1
        return [self._insert(record) for record in records]

    def _insert(self, record: Record) -> Exception | None:
        if (earlier := self._by_command.get(record.command_id)) is not None:
            return DuplicateCommand(earlier)
        if isinstance(record, Commit):
            key = (record.aggregate_id, record.version)
            if key in self._versions:
                return ConcurrencyConflict(record.aggregate_id)
            self._versions.add(key)
            if record.awaits_payment:
                self._expiring.add(record.id)
        self._by_command[record.command_id] = record
        self.records[record.id] = record
        return None

    async def find_by_command(self, command_id: str) -> Record | None:
        return self._by_command.get(command_id)

    async def unbind(self, command_id: str, fingerprint: str | None) -> None:
        record = self._by_command.get(command_id)
        if isinstance(record, Outcome) and record.binding and record.fingerprint == fingerprint:
            del self._by_command[command_id]
            del self.records[record.id]

    async def unpublished(
        self,
        older_than: datetime,
        limit: int = 500,
        skip: Sequence[str] = (),
        leave: Callable[[ObjectId], bool] | None = None,
    ) -> list[Commit]:
        pending = [
            r
            for r in self.records.values()
            if isinstance(r, Commit) and not r.published and r.committed_at < older_than and r.aggregate_id not in skip
        ]
        ordered = sorted(pending, key=lambda c: (c.aggregate_id, c.version))[:limit]
        return [c for c in ordered if leave is None or not leave(c.id)]

    async def mark_published(self, commit_ids: Sequence[ObjectId]) -> None:
        self.mark_now(commit_ids)

    def mark_now(self, commit_ids: Sequence[ObjectId]) -> None:
        for commit_id in commit_ids:
            record = self.records.get(commit_id)
            if isinstance(record, Commit):
                marked = dataclasses.replace(record, published=True)
                self.records[commit_id] = self._by_command[record.command_id] = marked

    async def placed_before(self, moment: datetime, limit: int = 100) -> list[Commit]:
        placed = [r for i in self._expiring if isinstance(r := self.records[i], Commit) and r.committed_at < moment]
        return sorted(placed, key=lambda c: c.committed_at)[:limit]

    async def oldest_placement(self) -> datetime | None:
        return min((self.records[i].committed_at for i in self._expiring), default=None)

    async def looked_at(self, commit_ids: Sequence[ObjectId]) -> None:
        self._expiring.difference_update(commit_ids)

    def outcomes(self) -> list[Outcome]:
        return [r for r in self.records.values() if isinstance(r, Outcome)]
