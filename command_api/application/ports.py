"""What the application layer needs from the stores around it: the records it appends,
the errors an append can raise, and the shapes (``typing.Protocol``) of its
dependencies. The adapters implement them twice — MongoDB (``command_api.adapters``)
and in memory (``command_api.adapters.memory``) — and one contract suite per port
(``tests/contracts/``) runs against both, so the application never imports an adapter.

**Records.** The event store holds one document per command that left something behind,
unique by ``command_id``:

- a ``Commit``: the events one command appended to one aggregate (optimistic
  concurrency: ``(aggregate_id, version)`` is unique). A keyed command's commit carries
  its request ``fingerprint``: the commit *is* its idempotency record, and its 202 is
  rebuilt from it on a replay. A commit may carry an ``intent`` (``Hold``, ``Release``):
  work that must follow it, and until that work is done the commit stays unpublished,
  which is how the relay finds it after a crash;
- an ``Outcome``: the stored answer of a keyed command that appended nothing (a refusal,
  a command that changed nothing, a placement fenced off by the reconciler). Sharing the
  commits' unique ``command_id`` makes "acted" and "refused" exclusive: of two
  concurrent attempts of one key, exactly one answer is stored.

``Commit`` and ``Outcome`` keep their document mapping (``to_document``/``from_document``):
the store's shape is also what consumers read (``shared.event_store_reader``), what the
seeder inserts and what the test kit writes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Literal, Protocol

import orjson
from bson import ObjectId
from pydantic import BaseModel, ConfigDict

from shared.events import EventEnvelope, utc_now
from shared.http.auth import KeyKind

ReleaseReason = Literal["order_cancelled", "order_rejected", "reservation_expired", "order_expired"]
Document = dict[str, Any]
# An Outcome document sits in the commits collection: its own type, no events, a key of
# its own in the (aggregate_id, version) index.
OUTCOME_TYPE = "outcome"


class ConcurrencyConflict(Exception):
    """Another writer appended to this aggregate first."""


class PartlyStored(Exception):
    """A chain's first ``stored`` records were stored; the next was refused with ``error``
    (what ``append`` would raise for it), and the ones after it were not tried."""

    def __init__(self, stored: int, error: Exception) -> None:
        super().__init__(f"{stored} stored, then: {error!r}")
        self.stored, self.error = stored, error


class DuplicateCommand(Exception):
    """This command id already has a record; ``earlier`` is it (a commit or an outcome)."""

    def __init__(self, earlier: Commit | Outcome) -> None:
        super().__init__(earlier.command_id)
        self.earlier = earlier


@dataclass(frozen=True, slots=True)
class Answer:
    """A command's HTTP answer as it is stored and replayed: status and JSON body."""

    status: int
    body: dict[str, Any]


class Hold(BaseModel):
    """Carried by each ``StockReserved`` commit of an order placement: the placement is
    undecided until a record with ``command_id`` exists (its ``OrderPlaced`` commit, or an
    outcome). Past the reservation TTL the reconciler decides it: it stores an outcome
    (which fences off a late ``OrderPlaced``) and gives ``product_ids`` their units back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["hold"] = "hold"
    order_id: str
    command_id: str
    correlation_id: str
    fingerprint: str | None = None
    product_ids: list[str]


class Release(BaseModel):
    """Carried by an ``OrderCancelled`` commit: the products whose units go back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["release"] = "release"
    order_id: str
    reason: ReleaseReason
    product_ids: list[str]


Intent = Hold | Release


def _intent_of(raw: Document | None) -> Intent | None:
    if raw is None:
        return None
    return Hold.model_validate(raw) if raw.get("kind") == "hold" else Release.model_validate(raw)


@dataclass(frozen=True)
class Commit:
    aggregate_type: str
    aggregate_id: str
    merchant_id: str
    command_id: str
    events: list[EventEnvelope]
    committed_at: datetime = field(default_factory=utc_now)
    id: ObjectId = field(default_factory=ObjectId)
    fingerprint: str | None = None  # the request's, for keyed commands (docs/api.md)
    intent: Intent | None = None
    published: bool = False  # the seeder stores its commits published (its run record is their outbox)

    @property
    def version(self) -> int:
        return self.events[0].aggregate_version

    @property
    def last_version(self) -> int:
        return self.events[-1].aggregate_version

    @property
    def correlation_id(self) -> str:
        return self.events[0].correlation_id

    @property
    def awaits_payment(self) -> bool:
        """An order placed by a command: the expirer's work once it is old enough. (The
        seeder's history is stored published, and is not expired.)"""
        return not self.published and self.events[0].type == "OrderPlaced"

    @property
    def settled(self) -> bool:
        """No work follows it: it is marked published as soon as it is on Kafka."""
        return self.intent is None

    @cached_property
    def event_documents(self) -> list[Document]:
        """The envelopes as stored and as put on Kafka (serialised once for both)."""
        return [e.model_dump(mode="json") for e in self.events]

    def event_bodies(self) -> list[bytes]:
        """The Kafka message values: exactly ``EventEnvelope.to_json()`` of each event."""
        return [orjson.dumps(doc) for doc in self.event_documents]

    def to_document(self) -> Document:
        doc: Document = {
            "_id": self.id,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": self.aggregate_id,
            "version": self.version,
            "last_version": self.last_version,
            "merchant_id": self.merchant_id,
            "command_id": self.command_id,
            "committed_at": self.committed_at,
            "events": self.event_documents,
        }
        if self.published:  # stored published (the seeder's): no outbox entry, nothing to publish
            doc["published"] = True
        if self.fingerprint is not None:
            doc["fingerprint"] = self.fingerprint
        if self.intent is not None:
            doc["intent"] = self.intent.model_dump(mode="json")
        if self.awaits_payment:
            doc["expiring"] = True
        return doc

    @classmethod
    def from_document(cls, doc: Document) -> Commit:
        return cls(
            aggregate_type=doc["aggregate_type"],
            aggregate_id=doc["aggregate_id"],
            merchant_id=doc["merchant_id"],
            command_id=doc["command_id"],
            events=[EventEnvelope.model_validate(e) for e in doc["events"]],
            committed_at=doc["committed_at"],
            id=doc["_id"],
            fingerprint=doc.get("fingerprint"),
            intent=_intent_of(doc.get("intent")),
            published=doc.get("published", False),
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The stored answer of a keyed command that appended no events — or, with no answer,
    a **binding**: the fingerprint of a keyed attempt that failed without an answer (it
    timed out, the store failed), kept so the key refuses any other request for good.
    The same request removes the binding (``EventStorePort.unbind``) and runs."""

    command_id: str
    merchant_id: str
    answer: Answer | None
    fingerprint: str | None = None
    committed_at: datetime = field(default_factory=utc_now)
    id: ObjectId = field(default_factory=ObjectId)

    @property
    def binding(self) -> bool:
        return self.answer is None

    def to_document(self) -> Document:
        return {
            "_id": self.id,
            "aggregate_type": OUTCOME_TYPE,
            "aggregate_id": f"{OUTCOME_TYPE}:{self.command_id}",
            "version": 0,
            "last_version": 0,
            "merchant_id": self.merchant_id,
            "command_id": self.command_id,
            "committed_at": self.committed_at,
            "published": True,  # nothing to publish
            "events": [],
            "fingerprint": self.fingerprint,
            "answer": None if self.answer is None else {"status": self.answer.status, "body": self.answer.body},
        }

    @classmethod
    def from_document(cls, doc: Document) -> Outcome:
        return cls(
            command_id=doc["command_id"],
            merchant_id=doc["merchant_id"],
            answer=None if doc["answer"] is None else Answer(doc["answer"]["status"], doc["answer"]["body"]),
            fingerprint=doc.get("fingerprint"),
            committed_at=doc["committed_at"],
            id=doc["_id"],
        )


Record = Commit | Outcome


def record_from_document(doc: Document) -> Record:
    return Outcome.from_document(doc) if doc["aggregate_type"] == OUTCOME_TYPE else Commit.from_document(doc)


class EventStorePort(Protocol):
    """Append-only records, one per command id, with optimistic concurrency."""

    async def load(self, aggregate_id: str, after_version: int = 0) -> list[EventEnvelope]:
        """The events of one aggregate after ``after_version``, in version order."""
        ...

    async def append(self, record: Record, *, requires: Callable[[], Awaitable[None]] | None = None) -> None:
        """Store one record atomically. Raises ``ConcurrencyConflict`` when a commit's
        first version is taken and ``DuplicateCommand`` (carrying the earlier record) when
        its command id has one. Appends that arrive together may be written together
        (group commit); each gets its own outcome.

        ``requires``: another write the record depends on (a new product's SKU claim),
        started by the store; it runs alongside the store's own preparation of the append; the record is stored
        only if it succeeded, else its error is raised and nothing of the record stays."""
        ...

    async def append_chain(self, records: Sequence[Record]) -> None:
        """Store the records in order, each only if every one before it was stored (a
        hold, then the order counting on it). The first refused: its error as ``append``
        raises it — or ``PartlyStored`` when records before it were stored."""
        ...

    def idle(self) -> bool:
        """Nothing is being written now: an append made at once goes alone. A chain pays
        off only then (in a batch with others it is written in waves, and its first
        record's aggregate stays locked until the last wave)."""
        ...

    async def append_batch(self, records: Sequence[Record]) -> list[Exception | None]:
        """Store several records, each atomically and independently: per record ``None``
        (stored) or the error ``append`` would raise for it."""
        ...

    async def find_by_command(self, command_id: str) -> Record | None: ...

    async def unbind(self, command_id: str, fingerprint: str | None) -> None:
        """Remove the binding of this command id, if it has one with this fingerprint
        (a retry of the request whose earlier attempt failed without an answer)."""
        ...


def rebinds(error: DuplicateCommand, command_id: str, fingerprint: str | None) -> bool:
    """The record refusing this append is a binding of the same request: unbind and retry."""
    earlier = error.earlier
    return (
        isinstance(earlier, Outcome)
        and earlier.binding
        and (earlier.command_id, earlier.fingerprint)
        == (
            command_id,
            fingerprint,
        )
    )


class OutboxPort(Protocol):
    """The commits not yet marked published: the relay's work list (an index, no scan)."""

    async def unpublished(
        self,
        older_than: datetime,
        limit: int = 500,
        skip: Sequence[str] = (),
        leave: Callable[[ObjectId], bool] | None = None,
    ) -> list[Commit]:
        """Unpublished commits appended before ``older_than``, each aggregate's in version
        order, except those of the aggregates in ``skip`` (parked) and those whose id
        ``leave`` says to leave (the publisher has them in hand): dropped before they are
        decoded, which under load is most of what a pass reads."""
        ...

    async def mark_published(self, commit_ids: Sequence[ObjectId]) -> None:
        """One write for the whole list."""
        ...


class ExpiryPort(Protocol):
    """The placed orders not yet looked at by the expirer (an index, no scan)."""

    async def placed_before(self, moment: datetime, limit: int = 100) -> list[Commit]:
        """``OrderPlaced`` commits appended before ``moment`` and not yet ``looked_at``, oldest first."""
        ...

    async def oldest_placement(self) -> datetime | None:
        """When the oldest of those was appended (``None``: there is none)."""
        ...

    async def looked_at(self, commit_ids: Sequence[ObjectId]) -> None:
        """Their orders were expired, or found paid or ended: never returned again."""
        ...


@dataclass(frozen=True, slots=True)
class Parked:
    """An aggregate whose publication stopped at ``commit_id`` (version ``version``): that
    commit cannot be put on Kafka (``reason``), so its later commits wait behind it."""

    aggregate_id: str
    merchant_id: str
    commit_id: ObjectId
    version: int
    reason: str
    parked_at: datetime = field(default_factory=utc_now)


class ParkingPort(Protocol):
    """The parked aggregates (a few documents; read at each relay pass that has work)."""

    async def park(self, parked: Parked) -> None: ...

    async def parked(self) -> list[Parked]: ...

    async def unpark(self, aggregate_ids: Sequence[str]) -> int:
        """Let their commits be published again (tried at the next relay pass); how many."""
        ...


class PublisherPort(Protocol):
    """Puts commits on Kafka. ``submit`` and ``settle`` are for the request path: they
    queue and return, never blocking nor failing a command. ``publish`` is the relay's:
    it waits for the broker's acks and raises if they do not come."""

    def submit(self, commit: Commit) -> None:
        """Produce the commit's events; mark it published too if it is ``settled``."""
        ...

    def settle(self, commit_ids: Sequence[ObjectId]) -> None:
        """The work these commits' intents asked for is done: mark them published."""
        ...

    async def publish(self, commits: Sequence[Commit], settle: Sequence[ObjectId] = ()) -> dict[ObjectId, str]:
        """Produce the commits' events in order, then mark published (one write) the
        settled ones and ``settle``. A commit that cannot be produced *because of itself*
        (too large, no topic for it) is not, nor are the later commits of its aggregate
        in the call: returned as ``{commit id: reason}``, the rest goes on. A broker
        failure raises."""
        ...

    def hold(self, aggregate_ids: set[str]) -> None:
        """The parked aggregates: ``submit`` leaves their commits to the relay (which skips them)."""
        ...

    @property
    def degraded(self) -> bool:
        """A publication failed: until the relay catches up, only the relay publishes."""
        ...

    def in_hand(self, commit_id: ObjectId) -> bool:
        """Queued or being published here (produced, or marked) — not the relay's to take."""
        ...

    def caught_up(self) -> None:
        """The relay found nothing left: publishing right after the append resumes."""
        ...


class SkuRegistryPort(Protocol):
    """One product per SKU and merchant; a taken SKU raises a ``DomainError`` (409)."""

    async def claim(self, merchant_id: str, sku: str, product_id: str) -> None: ...


class ApiKeysPort(Protocol):
    """Merchants' API keys, stored hashed (``shared.http.auth``); plain keys are returned once."""

    async def issue(self, merchant_id: str, kinds: Sequence[KeyKind]) -> dict[str, str]: ...

    async def revoke_all_but(self, merchant_id: str, kinds: Sequence[str], keep: Sequence[str]) -> None:
        """Revoke the merchant's keys of these kinds except the plain keys in ``keep``."""
        ...

    async def has_keys(self, merchant_id: str) -> bool: ...
