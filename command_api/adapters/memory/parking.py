"""Parked aggregates in memory (``ParkingPort``): the MongoDB adapter's rules, no durability."""

from __future__ import annotations

from collections.abc import Sequence

from command_api.application.ports import Parked


class InMemoryParking:
    def __init__(self) -> None:
        self.records: dict[str, Parked] = {}

    async def park(self, parked: Parked) -> None:
        self.records.setdefault(parked.aggregate_id, parked)

    async def parked(self) -> list[Parked]:
        return list(self.records.values())

    async def unpark(self, aggregate_ids: Sequence[str]) -> int:
        return sum(self.records.pop(a, None) is not None for a in aggregate_ids)
