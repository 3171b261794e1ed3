"""What the application layer needs from the stores around it: the commit it appends,
the errors an append can raise, and the shapes (``typing.Protocol``) of its
dependencies. The adapters implement them (``command_api.adapters``); the application
names only these, so it never imports an adapter.

The shapes are minimal: the methods the handlers, the repository, placement and the
reconciler call today, with their current meaning. An in-memory twin of each, and one
contract suite run against every implementation, are issue #22.

``Commit`` keeps its document mapping (``to_document``/``from_document``): the event
store's shape is also what consumers read (``shared.event_store_reader``), the seeder
inserts and the test kit writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from bson import ObjectId

from shared.events import EventEnvelope, utc_now

ReleaseReason = Literal["order_cancelled", "order_rejected", "reservation_expired"]


class ConcurrencyConflict(Exception):
    """Another writer appended to this aggregate first."""


class DuplicateCommand(Exception):
    """This command was already committed; ``commit`` is the earlier result."""

    def __init__(self, commit: Commit) -> None:
        super().__init__(commit.command_id)
        self.commit = commit


@dataclass(frozen=True)
class Commit:
    aggregate_type: str
    aggregate_id: str
    merchant_id: str
    command_id: str
    events: list[EventEnvelope]
    committed_at: datetime = field(default_factory=utc_now)
    id: ObjectId = field(default_factory=ObjectId)

    @property
    def version(self) -> int:
        return self.events[0].aggregate_version

    @property
    def last_version(self) -> int:
        return self.events[-1].aggregate_version

    def to_document(self) -> dict:
        return {
            "_id": self.id,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "last_version": self.last_version,
            "merchant_id": self.merchant_id,
            "command_id": self.command_id,
            "committed_at": self.committed_at,
            "published": False,
            "events": [e.model_dump(mode="json") for e in self.events],
        }

    @classmethod
    def from_document(cls, doc: dict) -> Commit:
        return cls(
            aggregate_type=doc["aggregate_type"],
            aggregate_id=doc["aggregate_id"],
            merchant_id=doc["merchant_id"],
            command_id=doc["command_id"],
            events=[EventEnvelope.model_validate(e) for e in doc["events"]],
            committed_at=doc["committed_at"],
            id=doc["_id"],
        )


class EventStorePort(Protocol):
    """Append-only commits, one per command, with optimistic concurrency."""

    async def load(self, aggregate_id: str, after_version: int = 0) -> list[EventEnvelope]:
        """The events of one aggregate after ``after_version``, in version order."""
        ...

    async def append(self, commit: Commit) -> Commit:
        """Append one commit atomically: the single-commit case of a batched append.

        Raises ``ConcurrencyConflict`` when the commit's first version is taken, and
        ``DuplicateCommand`` (carrying the earlier commit) when its ``command_id`` was
        already committed. A batch (several commits, each atomic and checked alike) is
        the shape this grows into; today every caller appends one.
        """
        ...

    async def head(self, aggregate_id: str) -> int:
        """The last version known appended (a hint: it may lag, never lead)."""
        ...

    async def find_by_command(self, command_id: str) -> Commit | None: ...


class PublisherPort(Protocol):
    """Hands a fresh commit over for publication; never blocks, never fails a command."""

    def submit(self, commit: Commit) -> None: ...


class SkuRegistryPort(Protocol):
    """One product per SKU and merchant; a taken SKU raises a ``DomainError`` (409)."""

    async def claim(self, merchant_id: str, sku: str, product_id: str) -> None: ...


class ReservationsPort(Protocol):
    """The reservation record of each order placement, moved by conditional state changes
    (``command_api.adapters.reservations`` shows the states)."""

    async def begin(
        self, order_id: str, merchant_id: str, command_id: str, correlation_id: str, lines: list[dict]
    ) -> tuple[dict, bool]: ...

    async def get(self, order_id: str) -> dict | None: ...

    async def move(self, order_id: str, from_state: str | tuple[str, ...], to_state: str, **fields) -> dict | None: ...

    async def stale(self, state: str, older_than: timedelta, limit: int = 100) -> list[dict]: ...
