"""Aggregates a projector parked: an event it could not apply stopped them, and their later
events wait (docs/projections.md, "Poison events park their aggregate").

One document per stream and aggregate in ``projector_parked`` (``_id`` =
``<stream>:<aggregate_id>``), through the projector's own store port, so both adapters
keep it. It records the version that could not be applied (the aggregate's stored state
is at the version before it) and why. A parking is written after the batch's states: a
crash before it re-folds the same events on redelivery and parks again; writing it twice
leaves the first. Every batch reads the parkings of its aggregates with its states (one
more query, overlapped with that read). ``merchant parked retry`` removes a parking and
replays the aggregate from the event store (``projectors.application.unpark``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from projectors.application.ports import Doc, ReadModelStore

PARKED = "projector_parked"
MAX_LISTED = 10_000


@dataclass(frozen=True)
class Parking:
    stream: str
    aggregate_id: str
    merchant_id: str
    version: int  # the first version not applied
    reason: str

    @property
    def id(self) -> str:
        return parking_id(self.stream, self.aggregate_id)


def parking_id(stream: str, aggregate_id: str) -> str:
    return f"{stream}:{aggregate_id}"


async def parked_among(store: ReadModelStore, stream: str, aggregate_ids: Collection[str]) -> set[str]:
    """Which of these aggregates of ``stream`` are parked."""
    found = await store.find_ids(PARKED, [parking_id(stream, a) for a in aggregate_ids])
    return {doc["aggregate_id"] for doc in found.values()}


async def park(store: ReadModelStore, parkings: list[Parking]) -> None:
    now = datetime.now(UTC)
    await store.append(
        PARKED,
        [
            {
                "_id": p.id,
                "stream": p.stream,
                "aggregate_id": p.aggregate_id,
                "merchant_id": p.merchant_id,
                "version": p.version,
                "reason": p.reason,
                "parked_at": now,
            }
            for p in parkings
        ],
    )


async def unpark(store: ReadModelStore, stream: str, aggregate_ids: Collection[str]) -> None:
    await store.delete_ids(PARKED, [parking_id(stream, a) for a in aggregate_ids])


async def parkings(store: ReadModelStore) -> list[Doc]:
    """Every parking, oldest first."""
    return await store.first(PARKED, {}, [("parked_at", 1), ("_id", 1)], MAX_LISTED)
