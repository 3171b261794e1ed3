"""Stale-while-revalidate in the two-level cache, with a slow loader standing in for MongoDB:
a reader after a change gets the previous entry at once while one reload runs; the bound,
the no-stale change (read-your-writes repair), a reset and queries not marked ``stale_ok``
make readers wait as before."""

from __future__ import annotations

import asyncio
import time

from query_api.adapters.cache.epochs import Epochs, id_tag
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.cache.subscriber import apply
from query_api.adapters.cache.two_level import Query, TwoLevelCache
from tests.unit.test_query_cache import FakeL2

TAG = id_tag("catalog_products", "p1")


class SlowStore:
    """The repository port: answers the current version, after ``release`` when gated."""

    def __init__(self) -> None:
        self.version = 1
        self.loads = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def load(self) -> bytes:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise LookupError("gone")
        return b'{"version": %d}' % self.version


def make(max_stale: float = 2.0) -> tuple[TwoLevelCache, Epochs]:
    epochs, stats = Epochs(), CacheStats()
    epochs.listening = True
    return TwoLevelCache(L1Cache(epochs, 100, stats=stats, max_stale=max_stale), FakeL2(), epochs, stats), epochs


def query(store: SlowStore, stale_ok: bool = True) -> Query:
    return Query("product:p1", TAG, 60, 60, store.load, stale_ok)


async def read(cache: TwoLevelCache, q: Query) -> tuple[bytes, float | None]:
    entry = cache.get("raw")
    if entry is not None:
        return entry.body, None
    entry, stale_for = await cache.answer("raw", q)
    return entry.body, stale_for


async def changed_while_slow(cache: TwoLevelCache, epochs: Epochs, store: SlowStore, **bump) -> None:
    """v1 cached; then v2 written and signalled while the store is slow."""
    await read(cache, query(store))
    store.version, store.gate = 2, asyncio.Event()
    cache.l2.generation += 1  # the projector's INCR: L2's copy is old too
    epochs.bump("catalog_products", "m1", ["p1"], **bump)


async def test_a_reader_after_a_change_gets_the_old_entry_at_once_and_one_reload_runs():
    cache, epochs = make()
    store = SlowStore()
    await changed_while_slow(cache, epochs, store)
    readers = [await asyncio.wait_for(read(cache, query(store)), 0.5) for _ in range(5)]  # no wait
    assert {body for body, _ in readers} == {b'{"version": 1}'}
    assert all(stale_for is not None and 0 <= stale_for < 2 for _, stale_for in readers)
    assert cache.stats.stale_served == 5 and cache.stats.background_reloads == 1
    await asyncio.sleep(0)
    assert store.loads == 2  # the first load, and the one background reload
    store.gate.set()
    for _ in range(100):
        if not cache._revalidating:
            break
        await asyncio.sleep(0.001)
    assert await read(cache, query(store)) == (b'{"version": 2}', None)  # an L1 hit, current
    assert cache.stats.l1_hits == 1


async def test_past_the_bound_a_reader_waits_for_the_reload():
    cache, epochs = make(max_stale=0.05)
    store = SlowStore()
    await changed_while_slow(cache, epochs, store)
    assert (await read(cache, query(store)))[1] is not None  # within the bound: stale
    await asyncio.sleep(0.08)
    waiting = asyncio.create_task(read(cache, query(store)))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # no stale answer after the bound
    store.gate.set()
    assert await waiting == (b'{"version": 2}', None)


async def test_the_bound_counts_from_the_last_moment_the_entry_was_known_valid():
    """An entry nobody read for longer than the bound before the change is not served stale:
    its staleness cannot be told apart from the time it sat unread."""
    cache, epochs = make(max_stale=0.05)
    store = SlowStore()
    await read(cache, query(store))
    await asyncio.sleep(0.08)
    store.version, store.gate = 2, asyncio.Event()
    cache.l2.generation += 1
    epochs.bump("catalog_products", "m1", ["p1"])
    waiting = asyncio.create_task(read(cache, query(store)))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    store.gate.set()
    assert await waiting == (b'{"version": 2}', None)


async def test_a_no_stale_change_is_never_answered_stale():
    cache, epochs = make()
    store = SlowStore()
    await changed_while_slow(cache, epochs, store, no_stale=True)
    waiting = asyncio.create_task(read(cache, query(store)))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    store.gate.set()
    assert await waiting == (b'{"version": 2}', None)
    assert cache.stats.stale_served == 0


async def test_a_no_stale_message_after_a_soft_one_stops_the_stale_answers():
    """The projector's message made the entry stale-servable; the repair's message that
    follows (a client saw v2 through min_version) ends it at once."""
    cache, epochs = make()
    store = SlowStore()
    await changed_while_slow(cache, epochs, store)
    assert (await read(cache, query(store)))[1] is not None
    time.sleep(0.001)  # (monotonic clocks are coarse on some machines)
    apply(b'{"collection": "catalog_products", "merchant_id": "m1", "ids": ["p1"], "no_stale": true}', epochs)
    waiting = asyncio.create_task(read(cache, query(store)))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    store.gate.set()
    assert (await waiting)[0] == b'{"version": 2}'


async def test_queries_not_marked_stale_ok_wait_as_before():
    cache, epochs = make()
    store = SlowStore()
    await read(cache, query(store, stale_ok=False))
    store.version, store.gate = 2, asyncio.Event()
    cache.l2.generation += 1
    epochs.bump("catalog_products", "m1", ["p1"])
    waiting = asyncio.create_task(read(cache, query(store, stale_ok=False)))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    store.gate.set()
    assert await waiting == (b'{"version": 2}', None)


async def test_after_a_reset_nothing_is_served_stale():
    cache, epochs = make()
    store = SlowStore()
    await changed_while_slow(cache, epochs, store)
    epochs.reset()  # the subscriber lost its connection: messages may have been missed
    waiting = asyncio.create_task(read(cache, query(store)))
    await asyncio.sleep(0.02)
    assert not waiting.done()
    store.gate.set()
    await waiting


async def test_a_failed_background_reload_drops_the_old_entry():
    """The product was unpublished (its load is a 404 now): the next reader gets the error."""
    cache, epochs = make()
    store = SlowStore()
    await changed_while_slow(cache, epochs, store)
    store.fail = True
    assert (await read(cache, query(store)))[1] is not None
    store.gate.set()
    for _ in range(100):
        if not cache._revalidating:
            break
        await asyncio.sleep(0.001)
    assert cache.stats.background_failures == 1
    store.gate = None
    try:
        await read(cache, query(store))
    except LookupError:
        pass
    else:
        raise AssertionError("the old entry was served after its reload failed")


async def test_pages_dropped_by_a_precise_change_are_served_stale_too():
    from query_api.adapters.cache.entry import Entry
    from query_api.application.pages import PageBounds

    epochs = Epochs()
    epochs.listening = True
    l1 = L1Cache(epochs, 10, max_stale=2.0)
    tag = ("catalog_products", "m1")
    page = PageBounds(frozenset({"p1"}), {"merchant_id": "m1"}, "price_amount", 1, None, None)
    entry = Entry.build(b"[1]", page=page)
    l1.put("page", entry, tag, epochs.current(tag), epochs.current_broad(tag), 60, stale_ok=True)
    assert l1.get("page") is entry
    epochs.bump("catalog_products", "m1", ["p1"], precise=True)
    assert l1.drop_pages([tag], {"p1"}) == 1
    assert l1.get("page") is None
    stale = l1.stale("page")
    assert stale is not None and stale[0] is entry
    l1.clear()
    assert l1.stale("page") is None
