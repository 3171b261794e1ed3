"""Single-flight: however many requests miss the same key at once, it is loaded once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self._flights: dict[Hashable, asyncio.Task[T]] = {}

    async def run(self, key: Hashable, load: Callable[[], Awaitable[T]]) -> tuple[T, bool]:
        """The loaded value, and whether this call shared another caller's load."""
        task = self._flights.get(key)
        shared = task is not None
        if task is None:
            task = asyncio.ensure_future(load())
            self._flights[key] = task
            task.add_done_callback(lambda _: self._flights.pop(key, None))
        # shield: a caller that gives up (client gone) does not cancel the others' load.
        return await asyncio.shield(task), shared

    def __len__(self) -> int:
        return len(self._flights)
