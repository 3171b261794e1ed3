"""The query cache's pieces with in-memory fakes: single-flight, epochs, L1, entry format."""

from __future__ import annotations

import asyncio
import gzip

import pytest

from query_api.adapters.cache import entry as entries
from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import ANY, Epochs
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.single_flight import SingleFlight
from query_api.adapters.cache.stats import CacheStats
from query_api.adapters.cache.subscriber import apply
from query_api.adapters.cache.two_level import Query, TwoLevelCache


class FakeL2:
    """L2 stand-in: a dict with generations, or 'down'."""

    def __init__(self) -> None:
        self.values: dict[str, tuple[int, Entry]] = {}
        self.generation = 0
        self.down = False
        self.available = True

    async def get(self, key, tag):
        if self.down:
            return None, None
        stored = self.values.get(key)
        if stored and stored[0] == self.generation:
            return self.generation, stored[1]
        return self.generation, None

    async def put(self, key, generation, entry, ttl):
        if not self.down:
            self.values[key] = (generation, entry)


def make_cache() -> tuple[TwoLevelCache, FakeL2, Epochs]:
    epochs, stats = Epochs(), CacheStats()
    l2 = FakeL2()
    epochs.listening = True
    return TwoLevelCache(L1Cache(epochs, 100, stats=stats), l2, epochs, stats), l2, epochs


def query(loader, key="k", tag=("catalog_products", "m1")) -> Query:
    return Query(key, tag, 60, 60, loader)


async def test_single_flight_loads_a_cold_key_once_for_all_waiters():
    flights: SingleFlight[int] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def load():
        nonlocal calls
        calls += 1
        await release.wait()
        return 42

    waiters = [asyncio.create_task(flights.run("k", load)) for _ in range(100)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*waiters)
    assert calls == 1
    assert [value for value, _ in results] == [42] * 100
    assert sum(shared for _, shared in results) == 99
    assert len(flights) == 0


async def test_a_failed_load_fails_its_waiters_and_the_next_call_retries():
    flights: SingleFlight[int] = SingleFlight()

    async def boom():
        raise RuntimeError("mongo down")

    with pytest.raises(RuntimeError):
        await flights.run("k", boom)

    async def ok():
        return 1

    assert await flights.run("k", ok) == (1, False)


async def test_hit_after_load_and_miss_after_invalidation():
    cache, _, epochs = make_cache()
    loads = 0

    async def load():
        nonlocal loads
        loads += 1
        return b'{"n": %d}' % loads

    assert cache.get("raw") is None
    first = await cache.load("raw", query(load))
    assert cache.get("raw") is first
    epochs.bump("catalog_products", "m1")
    assert cache.get("raw") is None
    # a tag spanning merchants is invalidated by any merchant's change
    await cache.load("any", query(load, key="k-any", tag=("catalog_products", ANY)))
    epochs.bump("catalog_products", "m2")
    assert cache.get("any") is None


async def test_entry_loaded_while_an_invalidation_arrives_is_not_kept_in_l1():
    cache, _, epochs = make_cache()
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_load():
        started.set()
        await release.wait()
        return b'{"price": "old"}'

    task = asyncio.create_task(cache.load("raw", query(slow_load)))
    await started.wait()
    epochs.bump("catalog_products", "m1")  # the projector changed the data meanwhile
    release.set()
    await task
    assert cache.get("raw") is None


async def test_requests_after_an_invalidation_do_not_join_an_older_load():
    cache, _, epochs = make_cache()
    started, release = asyncio.Event(), asyncio.Event()
    bodies = iter([b'"old"', b'"new"'])

    async def load():
        body = next(bodies)
        if body == b'"old"':
            started.set()
            await release.wait()
        return body

    old = asyncio.create_task(cache.load("raw", query(load)))
    await started.wait()
    epochs.bump("catalog_products", "m1")
    new = await cache.load("raw", query(load))
    release.set()
    assert (await old).body == b'"old"'
    assert new.body == b'"new"'


async def test_l2_is_validated_by_generation_and_skipped_when_down():
    cache, l2, epochs = make_cache()

    async def load():
        return b"{}"

    await cache.load("a", query(load))
    cache.l1.clear()
    await cache.load("a", query(load))
    assert cache.stats.l2_hits == 1
    l2.generation += 1  # a projector INCRemented the generation (message lost or not)
    cache.l1.clear()
    await cache.load("a", query(load))
    assert cache.stats.l3_loads == 2
    l2.down = True
    cache.l1.clear()
    await cache.load("a", query(load))
    assert cache.stats.l2_skipped == 1 and cache.stats.l3_loads == 3


def test_subscriber_applies_messages_and_ignores_garbage():
    epochs = Epochs()
    before = epochs.current(("orders", "m1"))
    apply(b'{"collection": "orders", "merchant_id": "m1", "ids": ["o1"]}', epochs)
    assert epochs.current(("orders", "m1")) != before
    apply(b"not json", epochs)
    apply(b'{"collection": "orders"}', epochs)


@pytest.mark.parametrize("size", [10, 5000])
def test_l2_format_round_trips_and_compresses_large_bodies(size):
    body = b'{"data": "' + b"x" * size + b'"}'
    entry = Entry.build(body)
    raw = entries.dump(entry, 7, compress_min_bytes=1024)
    generation, back = entries.load(raw)
    assert generation == 7 and back.body == body and back.etag == entry.etag
    if size > 1024:
        assert len(raw) < len(body) / 10
        assert gzip.decompress(back.gzip) == body
    assert entries.load(b"garbage") is None


def test_a_change_to_one_product_keeps_other_products_cached():
    from query_api.adapters.cache.epochs import id_tag

    epochs = Epochs()
    one, other = id_tag("catalog_products", "p1"), id_tag("catalog_products", "p2")
    before_one, before_other = epochs.current(one), epochs.current(other)
    epochs.bump("catalog_products", "m1", ["p1"])
    assert epochs.current(one) != before_one
    assert epochs.current(other) == before_other
    epochs.bump("catalog_products", "m1")  # no ids: every single-product entry is suspect
    assert epochs.current(other) != before_other


async def test_without_invalidations_l1_keeps_entries_only_briefly():
    import time as clock

    epochs = Epochs()
    l1 = L1Cache(epochs, 10, unsubscribed_ttl=0.05)
    entry = Entry.build(b"{}")
    tag = ("catalog_products", "m1")
    epochs.listening = False
    l1.put("k", entry, tag, epochs.current(tag), epochs.current_broad(tag), ttl=60)
    assert l1.get("k") is entry
    deadline = clock.monotonic() + 2
    while l1.get("k") is not None:
        assert clock.monotonic() < deadline
        await asyncio.sleep(0.01)
    epochs.listening = True
    l1.put("k", entry, tag, epochs.current(tag), epochs.current_broad(tag), ttl=60)
    await asyncio.sleep(0.1)
    assert l1.get("k") is entry


def prometheus(name: str, level: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, {"level": level}) or 0.0


async def test_every_cache_event_is_counted_in_health_cache_and_in_prometheus_alike():
    """The two views of the cache counters move together (the e2e test checks them equal
    after real traffic); here each event, one by one."""
    names = {
        "l1_hits": ("cache_hits_total", "l1"),
        "l1_misses": ("cache_misses_total", "l1"),
        "l2_hits": ("cache_hits_total", "l2"),
        "l2_misses": ("cache_misses_total", "l2"),
        "l3_loads": ("cache_hits_total", "l3"),
        "l1_invalidated": ("cache_invalidations_total", "l1"),
    }
    before = {field: prometheus(*metric) for field, metric in names.items()}
    cache, l2, epochs = make_cache()

    async def load():
        return b"{}"

    assert cache.get("k") is None  # L1 miss
    await cache.load("k", query(load))  # L2 miss, MongoDB
    assert cache.get("k") is not None  # L1 hit
    epochs.bump("catalog_products", "m1")
    assert cache.get("k") is None  # found stale: invalidated, and an L1 miss
    await cache.load("k", query(load))  # L2 (fake, generation unchanged) hit
    l2.down = True
    cache.l1.clear()  # 1 entry cleared
    await cache.load("k", query(load))  # L2 skipped: a miss at L2, MongoDB again

    stats = cache.stats
    assert (stats.l1_hits, stats.l1_misses, stats.l2_hits, stats.l2_misses, stats.l2_skipped) == (1, 2, 1, 1, 1)
    assert (stats.l3_loads, stats.l1_invalidated) == (2, 2)
    grown = {field: prometheus(*metric) - before[field] for field, metric in names.items()}
    assert grown == {
        "l1_hits": 1,
        "l1_misses": 2,
        "l2_hits": 1,
        "l2_misses": stats.l2_misses + stats.l2_skipped,
        "l3_loads": 2,
        "l1_invalidated": 2,
    }


def test_the_hit_ratio_counts_shed_reads_as_lookups_that_missed():
    stats = CacheStats(l1_hits=80, l1_misses=20, l3_loads=10, shed=25)
    snapshot = stats.snapshot()
    assert snapshot["lookups"] == 125
    assert snapshot["hit_ratio"] == round((125 - 10 - 25) / 125, 4)  # 0.72, not (100 - 10) / 100
    assert CacheStats().snapshot()["hit_ratio"] is None


async def test_hits_are_recorded_by_the_tag_that_ends_the_cached_answer():
    cache, _, _ = make_cache()

    async def load():
        return b"{}"

    page = query(load, key="product:p1", tag=("catalog_products", "id:p1"))
    for _ in range(3):
        if cache.get("/v1/products/p1?") is None:
            await cache.load("/v1/products/p1?", page)
    await cache.refresh("/v1/products/p1?", page)  # the warm-up worker's read: not a hit
    await cache.load("m:m1:/v1/merchant/orders?", query(load, key="orders:m1", tag=("orders", "m1")))  # private

    assert cache.hot.take() == {("catalog_products", "id:p1"): {"/v1/products/p1?": 3}}
    assert cache.hot.take() == {}  # the counts restart after each flush


def test_100000_changed_ids_keep_the_epoch_map_within_its_bound():
    """Each changed document used to keep a counter for the life of the process."""

    epochs = Epochs(max_tags=1000)
    for i in range(100_000):
        epochs.bump("orders", f"m{i % 50}", [f"o{i}"])
    assert len(epochs) <= 1000


def test_a_forgotten_tag_never_validates_an_entry_loaded_before():
    from query_api.adapters.cache.epochs import id_tag

    epochs = Epochs(max_tags=4)
    epochs.listening = True
    l1 = L1Cache(epochs, 10)
    tag = id_tag("catalog_products", "p1")
    l1.put("p1", Entry.build(b"{}"), tag, epochs.current(tag), epochs.current_broad(tag), ttl=60)
    assert l1.get("p1") is not None
    for i in range(10):  # p1's counters are evicted; the change below starts them again at 1
        epochs.bump("catalog_products", "m1", [f"x{i}"])
    epochs.bump("catalog_products", "m1", ["p1"])
    assert l1.get("p1") is None


def test_l1_page_index_forgets_tags_left_without_pages():
    from query_api.application.pages import PageBounds

    epochs = Epochs()
    epochs.listening = True
    l1 = L1Cache(epochs, 8)
    bounds = PageBounds(frozenset({"a"}), {}, "price_amount", 1, None, None)
    for i in range(1000):
        tag = ("catalog_products", f"m{i}")
        l1.put(f"k{i}", Entry.build(b"{}", page=bounds), tag, epochs.current(tag), epochs.current_broad(tag), 60)
    assert len(l1._pages) <= 2 * 8


def test_the_precise_change_log_keeps_few_and_recent_changes_and_stays_conservative(monkeypatch):
    """Each remembered change holds its documents read back in full: a list tag keeps at
    most LOG_SIZE of them, none older than LOG_SECONDS; a page loaded across a forgotten
    change is not cached (a reload later), never served wrong."""
    from query_api.adapters.cache import epochs as epoch_module
    from query_api.application.pages import PageBounds

    epochs = Epochs()
    tag = ("catalog_products", "m1")
    for i in range(100):
        change = epochs.bump("catalog_products", "m1", [f"p{i}"], precise=True)
        change.docs = [{"_id": f"p{i}", "x": "y" * 1000}]
    state = epochs.current(tag)[1]
    assert len(state.log) == epoch_module.LOG_SIZE
    page = PageBounds(frozenset({"a"}), {"merchant_id": "m2"}, "price_amount", 1, None, None)  # unaffected
    recent = epochs.current(tag)
    epochs.bump("catalog_products", "m1", ["q"], precise=True).docs = []
    assert epochs.unaffected_since(tag, recent, page)  # within the log: the page may be cached
    old = (recent[0], recent[1], recent[2] - epoch_module.LOG_SIZE - 5, None, 0)
    assert not epochs.unaffected_since(tag, old, page)  # beyond it: not cached
    later = epoch_module.time.monotonic() + epoch_module.LOG_SECONDS + 1
    monkeypatch.setattr(epoch_module.time, "monotonic", lambda: later)
    epochs.bump("catalog_products", "m1", ["r"], precise=True)
    assert len(state.log) == 1  # the old ones, and their documents, are gone
