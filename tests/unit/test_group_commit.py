"""Group commit: a lone write goes at once, writes that queue behind it go together, and
each member gets its own result."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from command_api.adapters.group_commit import GroupCommit


class Store:
    """Records each batch; holds a batch in flight until ``release`` is set."""

    def __init__(self, refuse: set[str] = frozenset(), fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()
        self.release.set()
        self.refuse, self.fail = refuse, fail

    async def write(self, items: Sequence[str]) -> list[Exception | None]:
        self.batches.append(list(items))
        await self.release.wait()
        if self.fail:
            raise ConnectionError("server gone")
        return [ValueError(i) if i in self.refuse else None for i in items]


async def test_a_lone_write_goes_at_once_alone():
    store = Store()
    group = GroupCommit(store.write)
    await asyncio.wait_for(group.submit("a"), timeout=0.5)  # no timer to wait for
    assert store.batches == [["a"]]


async def test_writes_arriving_while_one_is_in_flight_go_together():
    store = Store()
    store.release.clear()
    group = GroupCommit(store.write)
    first = asyncio.create_task(group.submit("a"))
    await asyncio.sleep(0)  # "a" is in flight
    queued = [asyncio.create_task(group.submit(x)) for x in "bcd"]
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(first, *queued)
    assert store.batches == [["a"], ["b", "c", "d"]]
    assert (group.batches, group.items) == (2, 4)


async def test_each_member_gets_its_own_result():
    store = Store(refuse={"b"})
    store.release.clear()
    group = GroupCommit(store.write)
    first = asyncio.create_task(group.submit("a"))
    await asyncio.sleep(0)
    others = [asyncio.create_task(group.submit(x)) for x in "bc"]
    store.release.set()
    results = await asyncio.gather(first, *others, return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)


async def test_a_failed_batch_fails_every_member():
    store = Store(fail=True)
    group = GroupCommit(store.write)
    results = await asyncio.gather(group.submit("a"), group.submit("b"), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)


async def test_a_waiter_cancelled_before_its_batch_is_sent_is_not_written():
    store = Store()
    store.release.clear()
    group = GroupCommit(store.write)
    first = asyncio.create_task(group.submit("a"))
    await asyncio.sleep(0)
    gone = asyncio.create_task(group.submit("gone"))
    kept = asyncio.create_task(group.submit("kept"))
    await asyncio.sleep(0)
    gone.cancel()
    store.release.set()
    await asyncio.gather(first, kept)
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert store.batches == [["a"], ["kept"]]


async def test_a_batch_holds_at_most_max_batch():
    store = Store()
    store.release.clear()
    group = GroupCommit(store.write, max_batch=2)
    tasks = [asyncio.create_task(group.submit(str(i))) for i in range(5)]
    await asyncio.sleep(0)
    store.release.set()
    await asyncio.gather(*tasks)
    assert [len(b) for b in store.batches] == [2, 2, 1]
