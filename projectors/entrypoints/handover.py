"""A member hands its partitions over only between two batches.

When a consumer group rebalances (a projector process starts, stops or dies), Kafka asks
every member to give up its partitions and waits until each one has rejoined; aiokafka
calls ``on_partitions_revoked`` first and awaits it. ``Handover`` makes that wait for the
batch being applied, and holds the next batch until the new assignment is known; a batch
that was fetched before the rebalance keeps only the records of partitions still assigned
after it. So the new owner of a partition starts from the last committed offset once the
old owner has finished writing: two processes never apply one partition at once, which
matters where the store cannot make a conditional write atomic (FerretDB v1).

The exception: a member unresponsive for longer than the session timeout is removed
without being asked (its partitions move at once) and may still finish its batch if it
wakes up. The version guards keep that rare overlap from moving a document backwards on
MongoDB; docs/projections.md says what it can do on FerretDB.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import ConsumerRebalanceListener, TopicPartition


class Handover(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka ships no type hints
    def __init__(self) -> None:
        self.idle = asyncio.Event()
        self.idle.set()
        self.assigned = asyncio.Event()
        self.assigned.set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.assigned.clear()
        await self.idle.wait()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned.set()

    @asynccontextmanager
    async def batch(self) -> AsyncIterator[None]:
        """Apply one batch: not while partitions are being handed over."""
        await self.assigned.wait()
        self.idle.clear()
        try:
            yield
        finally:
            self.idle.set()
