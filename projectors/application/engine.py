"""Applying a batch of events to a projection: exact, idempotent, in per-aggregate order.

For one batch of one stream (``projectors.entrypoints.streams``):

1. validate each event's body; an unknown type or invalid body is *dead* (reason kept);
2. read the stored state document of every aggregate in the batch (one ``find``);
3. per aggregate, keep only versions above the stored one (duplicates and replays drop
   out here); if a version is missing before them, fetch it from the event store
   (``shared.event_store_reader``) — events are stored before they are published, so
   the gap is there. What the store does not have either is dead-lettered, never
   applied out of order;
4. fold the events with the stream's pure ``evolve`` and write whole documents, views
   first and the state collection last, each collection in one step that never moves a
   ``version`` backwards (``Names.writer``, a ``ports.NewerWriter``: a duplicate or a
   concurrent older writer is a no-op);
5. recompute the derived read models the touched aggregates feed (``projectors.adapters.derived``).

An event that the state rejects (e.g. ``OrderShipped`` before ``OrderPlaced``) is
dead-lettered and the aggregate's version moves past it, so one bad event cannot block
the ones behind it. A crash anywhere leaves at worst a view ahead of the state; the
redelivered batch recomputes the same documents and writes them again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError
from pymongo.asynchronous.database import AsyncDatabase

from shared.event_store_reader import events_between
from shared.events import EventEnvelope, UnknownEventType, UnsupportedSchemaVersion, decode_data
from shared.invalidation import Change

from projectors.application.ports import NewerWriter
from projectors.domain.errors import Unprojectable

Evolve = Callable[[dict | None, EventEnvelope, BaseModel], dict]


class Names(dict):
    """Logical collection name -> physical one (a rebuild writes into shadow collections),
    and how this server writes newer versions cheaply (``ports.NewerWriter``, chosen by
    ``projectors.adapters.bulk.detect_writer``)."""

    def __init__(self, mapping: dict | None = None, *, writer: NewerWriter) -> None:
        super().__init__(mapping or {})
        self.writer = writer

    def __missing__(self, key: str) -> str:
        return key


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    gap_filled: int = 0
    dead: list[tuple[EventEnvelope, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)


@dataclass(frozen=True)
class Stream:
    """One domain topic and the read models fed from it."""

    name: str
    topic: str
    aggregate_type: str
    state: str  # collection of state documents
    evolve: Evolve
    views: tuple[tuple[str, Callable[[dict], dict]], ...] = ()
    # Fill in what the fold cannot know (e.g. merchant names) before writing.
    enrich: Callable[[AsyncDatabase, Names, dict[str, dict]], Awaitable[None]] | None = None
    # Recompute derived read models from the written states; returns what changed.
    derive: Callable[[AsyncDatabase, Names, list[dict]], Awaitable[list[Change]]] | None = None
    derived: tuple[str, ...] = ()  # collections ``derive`` writes

    @property
    def read_models(self) -> tuple[str, ...]:
        return (self.state, *(c for c, _ in self.views), *self.derived)


def _decode(stream: Stream, event: EventEnvelope) -> tuple[BaseModel | None, str | None]:
    if event.aggregate_type != stream.aggregate_type:
        return None, f"aggregate_type {event.aggregate_type!r} on the {stream.topic} stream"
    try:
        return decode_data(event), None
    except UnknownEventType:
        return None, f"unknown event type {event.type!r}"
    except UnsupportedSchemaVersion as exc:
        return None, f"unsupported schema version: {exc}"
    except ValidationError as exc:
        return None, f"invalid {event.type} body: {exc.errors(include_url=False)[:3]}"


async def _complete(
    db: AsyncDatabase, aggregate_id: str, stored: int, pending: dict[int, EventEnvelope], outcome: Outcome
) -> list[EventEnvelope]:
    """The aggregate's events after ``stored`` in order, gaps filled from the event store;
    anything beyond a gap the store cannot fill is dead-lettered."""
    top = max(pending)
    if len(pending) != top - stored:
        for event in await events_between(db, aggregate_id, stored, top):
            if event.aggregate_version not in pending:
                pending[event.aggregate_version] = event
                outcome.gap_filled += 1
    ordered = []
    for version in range(stored + 1, top + 1):
        if version not in pending:
            for later in sorted(v for v in pending if v > version):
                outcome.dead.append(
                    (pending[later], f"missing predecessor version {version} (not in the event store either)")
                )
            break
        ordered.append(pending[version])
    return ordered


def _fold(stream: Stream, state: dict | None, events: list[EventEnvelope], outcome: Outcome) -> dict | None:
    for event in events:
        data, reason = _decode(stream, event)
        try:
            if reason is not None:
                raise Unprojectable(reason)
            state = stream.evolve(state, event, data)
            outcome.applied += 1
        except Unprojectable as exc:
            outcome.dead.append((event, str(exc)))
            if state is not None:  # move past the bad event so later ones still apply
                state = {**state, "version": event.aggregate_version}
    return state


async def apply_batch(db: AsyncDatabase, stream: Stream, events: list[EventEnvelope], names: Names) -> Outcome:
    outcome = Outcome()
    by_aggregate: dict[str, dict[int, EventEnvelope]] = {}
    for event in events:
        versions = by_aggregate.setdefault(event.aggregate_id, {})
        if event.aggregate_version in versions:
            outcome.duplicates += 1
        versions[event.aggregate_version] = event
    if not by_aggregate:
        return outcome

    states = {doc["_id"]: doc async for doc in db[names[stream.state]].find({"_id": {"$in": list(by_aggregate)}})}
    touched: dict[str, dict] = {}
    changed: dict[str, dict] = {}
    for aggregate_id, versions in by_aggregate.items():
        stored_doc = states.get(aggregate_id)
        stored = stored_doc["version"] if stored_doc else 0
        pending = {v: e for v, e in versions.items() if v > stored}
        outcome.duplicates += len(versions) - len(pending)
        new = stored_doc
        if pending:
            new = _fold(stream, stored_doc, await _complete(db, aggregate_id, stored, pending, outcome), outcome)
        if new is not None:
            touched[aggregate_id] = new
            if new is not stored_doc:
                changed[aggregate_id] = new

    if stream.enrich is not None:
        await stream.enrich(db, names, changed)
    for collection, view in stream.views:
        await names.writer.write_newer(db[names[collection]], [view(doc) for doc in changed.values()])
        outcome.changes += [Change(collection, d["merchant_id"], (d["_id"],)) for d in changed.values()]
    await names.writer.write_newer(db[names[stream.state]], list(changed.values()))
    outcome.changes += [Change(stream.state, d["merchant_id"], (d["_id"],)) for d in changed.values()]
    if stream.derive is not None and touched:
        # Touched, not only changed: a redelivered batch whose states were already written
        # may have crashed before this step, so it recomputes (idempotently) again.
        outcome.changes += await stream.derive(db, names, list(touched.values()))
    return outcome
