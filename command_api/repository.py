"""Loading aggregates from the event store and appending their pending events."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TypeVar

from shared.events import EVENT_TYPES, EventEnvelope, current_version, decode_data

from command_api.domain.aggregate import Aggregate
from command_api.event_store import Commit, DuplicateCommand, EventStore
from command_api.publisher import CommitPublisher

A = TypeVar("A", bound=Aggregate)

# Ids derived from a command id are stable across retries of the same command.
_ID_NAMESPACE = uuid.UUID("6f1c2b7e-8a7d-4c1e-9a55-2d8f0c3e4b11")


@dataclass(frozen=True)
class CommandContext:
    merchant_id: str
    command_id: str
    correlation_id: str

    def new_aggregate_id(self) -> str:
        return str(uuid.uuid5(_ID_NAMESPACE, self.command_id))


class Repository:
    def __init__(self, store: EventStore, publisher: CommitPublisher) -> None:
        self._store, self._publisher = store, publisher

    async def load(self, cls: type[A], aggregate_id: str, merchant_id: str) -> A | None:
        """The aggregate, or ``None`` when it does not exist *for this merchant*."""
        aggregate = cls(aggregate_id, merchant_id)
        for envelope in await self._store.load(aggregate_id):
            if envelope.merchant_id != merchant_id:
                return None  # another merchant's: indistinguishable from absent
            aggregate.apply(envelope.type, decode_data(envelope))
        return aggregate if aggregate.exists else None

    async def save(self, aggregate: Aggregate, ctx: CommandContext) -> Commit:
        """Append the pending events as one commit and queue it for Kafka.

        A command already committed (a retry after a crash) returns its earlier commit.
        """
        first = aggregate.version - len(aggregate.pending) + 1
        envelopes = [
            EventEnvelope(type=event_type, schema_version=current_version(event_type), aggregate_type=aggregate.aggregate_type,
                          aggregate_id=aggregate.id, aggregate_version=first + i,
                          merchant_id=ctx.merchant_id, correlation_id=ctx.correlation_id,
                          causation_id=ctx.command_id, data=data.model_dump(mode="json"))
            for i, (event_type, data) in enumerate(aggregate.pending)
        ]
        assert all(e.type in EVENT_TYPES for e in envelopes), "every event type is registered"
        commit = Commit(aggregate_type=aggregate.aggregate_type, aggregate_id=aggregate.id,
                        merchant_id=ctx.merchant_id, command_id=ctx.command_id, events=envelopes)
        try:
            commit = await self._store.append(commit)
        except DuplicateCommand as dup:
            return dup.commit
        aggregate.pending.clear()
        self._publisher.submit(commit)
        return commit
