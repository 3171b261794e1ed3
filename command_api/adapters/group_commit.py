"""Group commit: writes that arrive while one is in flight are written together.

``GroupCommit(write_batch).submit(item)`` queues ``item`` and waits for its own result.
When no batch is in flight the item is written at once, alone — no timer, so a lone
command pays one round trip and nothing more. While a batch is in flight, new items
queue; when it returns, everything queued goes out as the next batch (up to
``max_batch``). At most one batch is in flight, so under load a batch holds what
arrived during one round trip, and the store sees one write per round trip instead of
one per command.

Failure modes:

- ``write_batch`` returns one result per item (``None``: written; an exception: what
  that item's ``submit`` raises). A failure of the whole batch (the server unreachable,
  a dropped connection) is raised by every member's ``submit``: whether such a batch was
  written is unknown, as for any single write whose answer was lost.
- A waiter that is cancelled (its request timed out) before its batch is sent is left
  out of it: nothing of it is written. Once its batch is sent, it is written or not
  regardless; the result is dropped. Batches are written by a task of their own, so a
  cancelled request never cancels a write that carries other requests' items.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)

WriteBatch = Callable[[Sequence[T]], Awaitable[list[Exception | None]]]


class GroupCommit(Generic[T]):
    def __init__(self, write_batch: WriteBatch[T], *, max_batch: int = 1000, name: str = "group-commit") -> None:
        self._write_batch, self._max_batch, self._name = write_batch, max_batch, name
        self._queue: list[tuple[T, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None
        self.batches = 0  # written so far, and their items: a batch's mean size is items / batches
        self.items = 0

    @property
    def idle(self) -> bool:
        """No batch in flight and none queued: an item submitted now is written at once."""
        return self._writer is None and not self._queue

    async def submit(self, item: T) -> None:
        """Write ``item`` (with whatever else is queued); raise what its write raised."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_queued(), name=self._name)
        await future

    async def _write_queued(self) -> None:
        try:
            while self._queue:
                batch = [(item, f) for item, f in self._queue[: self._max_batch] if not f.cancelled()]
                del self._queue[: self._max_batch]
                if batch:
                    await self._write([item for item, _ in batch], [f for _, f in batch])
        except asyncio.CancelledError:  # shutting down: nobody may wait forever
            for _, future in self._queue:
                future.cancel()
            self._queue.clear()
            raise
        finally:
            self._writer = None

    async def _write(self, items: list[T], futures: list[asyncio.Future[None]]) -> None:
        self.batches += 1
        self.items += len(items)
        try:
            results = await self._write_batch(items)
        except asyncio.CancelledError:
            for future in futures:
                future.cancel()
            raise
        except Exception as exc:  # the whole batch: every member learns it
            log.warning("%s: a batch of %d failed: %s", self._name, len(items), exc)
            results = [exc] * len(items)
        for future, result in zip(futures, results, strict=True):
            if future.done():  # its request gave up meanwhile
                continue
            if result is None:
                future.set_result(None)
            else:
                future.set_exception(result)
