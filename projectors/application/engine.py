"""Applying a batch of events to a projection: exact, idempotent, in per-aggregate order.

For one batch of one stream (``projectors.entrypoints.streams``), each event delivered with
its source (topic partition) and position (offset):

1. validate each event's body; an unknown type or invalid body is *dead* (reason kept);
2. read the stored state document of every aggregate in the batch, and which of them are
   parked (``parking``; two queries, overlapped); a parked aggregate's events wait;
3. per aggregate, keep only versions above the stored one (duplicates and replays drop
   out here); if a version is missing before them, fetch it from the event store
   (``ports.EventHistory``) — events are stored before they are published, so the gap is
   there. What the store does not have either is dead-lettered, never applied out of order;
4. fold the events with the stream's pure ``evolve``, keeping each state on the way
   (``folding.Trail``), and ask the store whether it could hold what it is about to write
   (``ReadModelStore.refusal``);
5. write, each collection in one step that never moves a ``version`` backwards: the
   views, then the derived read models (``derived``: counters by delta, then documents as
   their sums), then the state documents, then the new parkings last. States and views are
   replaced in place (``replace_newer``): every redelivery folds from the states, and the
   derived views' repairs read the views, so neither may be missing even if the process
   dies mid-write. A sole writer into empty shadows (a rebuild, ``known``) has no reader
   and restarts from empty after a crash: it writes them like the derived documents.
   A step may send its documents as several concurrent bulk writes (the store's business:
   ``mongo_store.WRITE_CONCURRENCY``), but it returns only when all of them have, so the
   order between collections holds: views before the derived documents (whose repairs
   read them), those before the states (a stored state says its counters and documents
   are written), parkings last.

**Poison parks its aggregate.** An event the state rejects (e.g. ``OrderShipped`` before
``OrderPlaced``), whose numbers a document cannot hold, that the fold fails on (a bug), or
that leaves a document the store would refuse (step 4), is dead-lettered (reason kept)
and its aggregate is *parked* at that version: the state stays at the version before, the
aggregate's later events are neither applied nor dead-lettered (they are in the event
store), and every other aggregate of the batch is written as usual — the batch is split
by aggregate, never failed or skipped as a whole. ``merchant parked retry`` replays a
parked aggregate (``unpark``). A store outage is not poison: the batch fails and is
redelivered, nothing is parked. A crash anywhere before step 5's state write leaves the
states as they were: the redelivered batch folds the same events again, rewrites the same
views and skips the counters it had already moved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from shared.events import EventEnvelope, UnknownEventType, UnsupportedSchemaVersion, decode_data
from shared.invalidation import Change
from shared.observability import metrics

from projectors.application.derived import Derivation, apply_derivations, plan_derivations
from projectors.application.folding import Trail, effective_positions
from projectors.application.known import Known
from projectors.application.parking import Parking, park, parked_among
from projectors.application.ports import Doc, EventHistory, ReadModelStore
from projectors.domain.errors import Unprojectable

log = logging.getLogger(__name__)

Evolve = Callable[[Doc | None, EventEnvelope, BaseModel], Doc]
View = Callable[[Doc], Doc]
Enrich = Callable[[ReadModelStore, dict[str, Doc]], Awaitable[None]]


@dataclass(frozen=True)
class Delivery:
    """An event as it arrived: from which source (``<topic>#<partition>``, or ``replay``)
    and at which position in it (the offset)."""

    event: EventEnvelope
    source: str
    position: int


@dataclass(frozen=True)
class Batch:
    deliveries: list[Delivery]
    # Per source, the last position in the batch, records that were not events included.
    ends: dict[str, int]

    @classmethod
    def of(cls, deliveries: list[Delivery], ends: dict[str, int] | None = None) -> Batch:
        last = dict(ends or {})
        for d in deliveries:
            last[d.source] = max(last.get(d.source, d.position), d.position)
        return cls(deliveries, last)


@dataclass
class Outcome:
    applied: int = 0
    duplicates: int = 0
    gap_filled: int = 0
    dead: list[tuple[EventEnvelope, str]] = field(default_factory=list)
    parked: list[Parking] = field(default_factory=list)  # parked by this batch
    waiting: int = 0  # events of aggregates parked before this batch, left in the event store
    changes: list[Change] = field(default_factory=list)
    # The state of every aggregate the batch named, as now stored (duplicates included:
    # what follows a batch must run again when it is redelivered).
    touched: list[Doc] = field(default_factory=list)


@dataclass(frozen=True)
class Stream:
    """One domain topic and the read models fed from it."""

    name: str
    topic: str
    aggregate_type: str
    state: str  # collection of state documents
    evolve: Evolve
    views: tuple[tuple[str, View], ...] = ()
    enrich: Enrich | None = None  # fills in what the fold cannot know (merchant names)
    derivations: tuple[Derivation, ...] = ()

    @property
    def served(self) -> tuple[str, ...]:
        """The read models it feeds that others read."""
        return (self.state, *(c for c, _ in self.views), *(d.view for d in self.derivations))

    @property
    def read_models(self) -> tuple[str, ...]:
        """Every collection it writes: the served ones and the derived views' counters."""
        return (*self.served, *(d.counters for d in self.derivations))


def _decode(stream: Stream, event: EventEnvelope) -> BaseModel:
    if event.aggregate_type != stream.aggregate_type:
        raise Unprojectable(f"aggregate_type {event.aggregate_type!r} on the {stream.topic} stream")
    try:
        return decode_data(event)
    except UnknownEventType:
        raise Unprojectable(f"unknown event type {event.type!r}") from None
    except UnsupportedSchemaVersion as exc:
        raise Unprojectable(f"unsupported schema version: {exc}") from None
    except ValidationError as exc:
        raise Unprojectable(f"invalid {event.type} body: {exc.errors(include_url=False)[:3]}") from None


async def _complete(
    history: EventHistory, aggregate_id: str, stored: int, pending: dict[int, Delivery], outcome: Outcome
) -> list[tuple[EventEnvelope, int | None]]:
    """The aggregate's events after ``stored`` in order with their positions (``None`` for
    gaps filled from the event store); anything beyond a gap the store cannot fill is
    dead-lettered."""
    top = max(pending)
    fetched: dict[int, EventEnvelope] = {}
    if len(pending) != top - stored:
        for event in await history.events_between(aggregate_id, stored, top):
            if event.aggregate_version not in pending:
                fetched[event.aggregate_version] = event
                outcome.gap_filled += 1
    ordered: list[tuple[EventEnvelope, int | None]] = []
    for version in range(stored + 1, top + 1):
        if version in pending:
            ordered.append((pending[version].event, pending[version].position))
        elif version in fetched:
            ordered.append((fetched[version], None))
        else:
            for later in sorted(v for v in pending if v > version):
                reason = f"missing predecessor version {version} (not in the event store either)"
                outcome.dead.append((pending[later].event, reason))
            break
    while ordered and ordered[-1][1] is None:  # a fetched tail with nothing delivered after it
        ordered.pop()
    return ordered


def _evolve(stream: Stream, state: Doc | None, event: EventEnvelope) -> Doc | str:
    """The state after ``event``, or why it cannot be projected."""
    try:
        return stream.evolve(state, event, _decode(stream, event))
    except Unprojectable as exc:
        return str(exc)
    except Exception as exc:  # a bug must not stall the stream for every tenant: park it
        log.exception("%s: %s v%d could not be projected", stream.name, event.aggregate_id, event.aggregate_version)
        return f"projector error: {exc!r}"[:500]


def _refusal(store: ReadModelStore, stream: Stream, state: Doc | None) -> str | None:
    """Why the store would refuse what this state writes (the state and its views)."""
    if state is None:
        return None
    for doc in (state, *(view(state) for _, view in stream.views)):
        if (reason := store.refusal(doc)) is not None:
            return reason
    return None


def _fold(
    store: ReadModelStore,
    stream: Stream,
    trail: Trail,
    events: list[tuple[EventEnvelope, int | None]],
    outcome: Outcome,
) -> None:
    """Fold the events into ``trail``; at the first one that cannot be projected, or that
    leaves a document the store would refuse, dead-letter it and park the aggregate there
    (the events after it wait)."""
    state = trail.stored
    positions = effective_positions([position for _, position in events])
    poison: tuple[EventEnvelope, str] | None = None
    for (event, _), position in zip(events, positions, strict=True):
        new = _evolve(stream, state, event)
        if isinstance(new, str):
            poison = (event, new)
            break
        state = new
        trail.steps.append((position, state))
    if trail.steps and _refusal(store, stream, state) is not None:  # only what is written is checked
        at = next(i for i, (_, step) in enumerate(trail.steps) if _refusal(store, stream, step) is not None)
        poison = (events[at][0], _refusal(store, stream, trail.steps[at][1]) or "")
        del trail.steps[at:]
    outcome.applied += len(trail.steps)
    if poison is not None:
        _park(stream, *poison, outcome)


def _park(stream: Stream, event: EventEnvelope, reason: str, outcome: Outcome) -> None:
    outcome.dead.append((event, reason))
    outcome.parked.append(Parking(stream.name, event.aggregate_id, event.merchant_id, event.aggregate_version, reason))


def _by_aggregate(batch: Batch, outcome: Outcome) -> dict[str, dict[int, Delivery]]:
    """Each aggregate's deliveries by version; of two copies of one, the earlier position."""
    by_aggregate: dict[str, dict[int, Delivery]] = {}
    for delivery in batch.deliveries:
        versions = by_aggregate.setdefault(delivery.event.aggregate_id, {})
        seen = versions.get(delivery.event.aggregate_version)
        if seen is not None:
            outcome.duplicates += 1
            if seen.position <= delivery.position:
                continue
        versions[delivery.event.aggregate_version] = delivery
    return by_aggregate


async def fold_batch(
    store: ReadModelStore, history: EventHistory, stream: Stream, batch: Batch, outcome: Outcome
) -> tuple[list[Trail], dict[str, Doc]]:
    """Steps 1-4: the trails of the aggregates that moved, and every touched state."""
    by_aggregate = _by_aggregate(batch, outcome)
    with _phase(stream, "read"):
        stored_docs, parked = await asyncio.gather(
            store.find_ids(stream.state, list(by_aggregate)), parked_among(store, stream.name, list(by_aggregate))
        )
    began = time.perf_counter()
    trails, touched = [], {}
    for aggregate_id, versions in by_aggregate.items():
        if aggregate_id in parked:
            outcome.waiting += len(versions)
            continue
        stored_doc = stored_docs.get(aggregate_id)
        stored = stored_doc["version"] if stored_doc else 0
        pending = {v: d for v, d in versions.items() if v > stored}
        outcome.duplicates += len(versions) - len(pending)
        trail = Trail(aggregate_id, next(iter(versions.values())).source, stored_doc)
        if pending:
            _fold(store, stream, trail, await _complete(history, aggregate_id, stored, pending, outcome), outcome)
        if trail.steps:
            trails.append(trail)
        if trail.new is not None:
            touched[aggregate_id] = trail.new
    _observe(stream, "fold", time.perf_counter() - began)  # with the rare gap fills' reads
    return trails, touched


def _observe(stream: Stream, phase: str, seconds: float) -> None:
    metrics.projector_phase_seconds.labels(stream.name, phase).observe(seconds)


def _phase(stream: Stream, phase: str) -> AbstractContextManager[None]:
    """Time a step of the batch into ``merchant_projector_phase_seconds{stream, phase}``."""
    return metrics.time(metrics.projector_phase_seconds.labels(stream.name, phase))


def _changes(collection: str, docs: list[Doc]) -> list[Change]:
    """One change per merchant (as ``invalidation.merge`` would make them; a rebuild writes
    thousands of documents per batch)."""
    ids: dict[str, list[str]] = {}
    for d in docs:
        ids.setdefault(d["merchant_id"], []).append(d["_id"])
    return [Change(collection, merchant, tuple(found)) for merchant, found in ids.items()]


def _writer(store: ReadModelStore, known: Known | None) -> Callable[..., Awaitable[None]]:
    """How states and views are written. In place for the live projector: a reader or a
    redelivery after a crash must never find one missing. A sole writer (``known``: a
    rebuild's replay into its shadows) has neither — nobody reads a shadow, and a rebuild
    that fails starts again from empty shadows — so it writes them as the derived documents
    are written (``write_newer``: on FerretDB one delete and one insert per batch, not a
    guarded replace per document)."""
    return store.write_newer if known is not None else store.replace_newer


async def apply_batch(
    store: ReadModelStore, history: EventHistory, stream: Stream, batch: Batch, known: Known | None = None
) -> Outcome:
    """Apply one batch. ``known``: for a sole writer of the stream's derived read models
    (``application.known``); forgotten if the batch fails."""
    try:
        return await _apply_batch(store, history, stream, batch, known)
    except BaseException:
        if known is not None:
            known.clear()  # a write may have failed half-way: read again
        raise


async def _apply_batch(
    store: ReadModelStore, history: EventHistory, stream: Stream, batch: Batch, known: Known | None
) -> Outcome:
    outcome = Outcome()
    if not batch.deliveries:
        return outcome
    trails, touched = await fold_batch(store, history, stream, batch, outcome)
    changed = {t.aggregate_id: t.new for t in trails if t.new is not None and t.new is not t.stored}
    # What is stored: the states' versions, and the views' as far as they follow them.
    known_versions = {t.aggregate_id: t.stored["version"] for t in trails if t.stored is not None}
    enriched = stream.enrich(store, changed) if stream.enrich is not None and changed else asyncio.sleep(0)
    # Independent reads: overlap their round trips.
    with _phase(stream, "plan"):
        plans, _ = await asyncio.gather(plan_derivations(store, stream.derivations, trails, known), enriched)
    write = _writer(store, known)
    for collection, view in stream.views:
        views = [view(doc) for doc in changed.values()]
        with _phase(stream, "views"):
            await write(collection, views, known_versions)  # before the price repairs, which read them
        outcome.changes += _changes(collection, views)
    if trails:
        with _phase(stream, "derivations"):
            outcome.changes += await apply_derivations(store, plans, batch.ends, known)
    with _phase(stream, "states"):
        await write(stream.state, list(changed.values()), known_versions)
    outcome.changes += _changes(stream.state, list(changed.values()))
    if outcome.parked:
        with _phase(stream, "parkings"):
            await park(store, outcome.parked)
    outcome.touched = list(touched.values())
    return outcome
