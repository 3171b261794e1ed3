"""Retrying a parked aggregate (``merchant parked retry``): remove its parking and replay its
events from the event store through the engine, from its stored state's version + 1 to the
latest stored one.

The replay is one source of its own, ``park:<stream>:<aggregate_id>``, positioned by the
events' versions: the derived views' counters of that source only move forward with the
aggregate, so a second retry adds what the first did not. An event that still cannot be
applied parks the aggregate again, at that version (said in the result); an event
delivered by Kafka meanwhile is applied once either way (versions guard the states).
The replay's dead letters are not produced again: the first parking produced them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.invalidation import Change

from projectors.application.engine import Batch, Delivery, Stream, apply_batch
from projectors.application.parking import Parking, unpark
from projectors.application.ports import EventHistory, ReadModelStore

LATEST = 2**62  # above any version


@dataclass
class Retried:
    aggregate_id: str
    applied: int = 0
    parked_again: Parking | None = None
    changes: list[Change] = field(default_factory=list)


def replay_source(stream: str, aggregate_id: str) -> str:
    return f"park:{stream}:{aggregate_id}"


async def retry(store: ReadModelStore, history: EventHistory, stream: Stream, aggregate_id: str) -> Retried:
    await unpark(store, stream.name, [aggregate_id])
    stored = (await store.find_ids(stream.state, [aggregate_id])).get(aggregate_id)
    events = await history.events_between(aggregate_id, stored["version"] if stored else 0, LATEST)
    result = Retried(aggregate_id)
    if not events:
        return result
    source = replay_source(stream.name, aggregate_id)
    outcome = await apply_batch(
        store, history, stream, Batch.of([Delivery(e, source, e.aggregate_version) for e in events])
    )
    result.applied, result.changes = outcome.applied, outcome.changes
    result.parked_again = next((p for p in outcome.parked if p.aggregate_id == aggregate_id), None)
    return result
