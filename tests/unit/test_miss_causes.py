"""Why a read missed L1, as the cache stats count it: cold, expired, evicted, invalidated
(``query_api.adapters.cache.l1``), and each MongoDB load by that cause and by kind of read."""

from __future__ import annotations

import asyncio

from query_api.adapters.cache.epochs import Epochs, id_tag
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.stats import CacheStats, kind_of
from query_api.adapters.cache.two_level import Query, TwoLevelCache
from tests.unit.test_query_cache import FakeL2


def make(maxsize: int = 100) -> TwoLevelCache:
    epochs, stats = Epochs(), CacheStats()
    epochs.listening = True
    return TwoLevelCache(L1Cache(epochs, maxsize, stats=stats), FakeL2(), epochs, stats, ttl_jitter=0.0)


def query(pid: str, ttl: float = 60.0) -> Query:
    async def load() -> bytes:
        return b'{"id": "%s"}' % pid.encode()

    return Query(f"product:{pid}", id_tag("catalog_products", pid), ttl, ttl, load)


async def read(cache: TwoLevelCache, pid: str, ttl: float = 60.0) -> None:
    key = f"/v1/products/{pid}?"
    if cache.get(key) is None:
        cache.l2.values.clear()  # every miss goes to "MongoDB": the load counts by its cause
        await cache.answer(key, query(pid, ttl))


async def test_first_read_is_cold_then_a_hit():
    cache = make()
    await read(cache, "p1")
    await read(cache, "p1")
    assert cache.stats.loads_by_cause == {"cold": 1}
    assert cache.stats.loads_by_kind == {"product": 1}
    assert cache.stats.l1_hits == 1


async def test_a_read_after_the_ttl_is_expired():
    cache = make()
    await read(cache, "p1", ttl=0.05)
    await asyncio.sleep(0.08)
    await read(cache, "p1", ttl=0.05)
    assert cache.stats.loads_by_cause == {"cold": 1, "expired": 1}


async def test_a_read_after_a_change_is_invalidated():
    cache = make()
    await read(cache, "p1")
    cache.epochs.bump("catalog_products", "m1", ["p1"])
    await read(cache, "p1")
    assert cache.stats.loads_by_cause == {"cold": 1, "invalidated": 1}


async def test_a_key_pushed_out_of_a_full_l1_is_evicted():
    cache = make(maxsize=2)
    for pid in ("p1", "p2", "p3"):  # p1 is the least recently used when p3 comes
        await read(cache, pid)
    await read(cache, "p1")
    assert cache.stats.loads_by_cause == {"cold": 3, "evicted": 1}


async def test_a_cause_is_answered_once():
    cache = make()
    await read(cache, "p1")
    cache.epochs.bump("catalog_products", "m1", ["p1"])
    assert cache.l1.get("/v1/products/p1?") is None
    assert cache.l1.miss_cause("/v1/products/p1?") == "invalidated"
    assert cache.l1.miss_cause("/v1/products/p1?") == "cold"


def test_kinds_of_read():
    assert kind_of("/v1/products/p1?") == "product"
    assert kind_of("/v1/products?category=a") == "list"
    assert kind_of("/v1/categories?") == "categories"
    assert kind_of("m:m1:/v1/merchant/orders?") == "merchant"
    assert kind_of("/v1/analytics?") == "other"


async def test_a_warm_up_read_of_a_page_still_valid_here_loads_nothing():
    cache = make()
    await read(cache, "p1")
    lookups, loads = cache.stats.snapshot()["lookups"], cache.stats.l3_loads
    entry = await cache.refresh("/v1/products/p1?", query("p1"))
    assert entry.body == b'{"id": "p1"}'
    assert (cache.stats.l3_loads, cache.stats.snapshot()["lookups"]) == (loads, lookups)  # no load, no lookup
    assert cache.stats.warm_ups_from_l1 == 1

    cache.epochs.bump("catalog_products", "m1", ["p1"])  # changed: the warm-up reloads it
    cache.l2.values.clear()
    await cache.refresh("/v1/products/p1?", query("p1"))
    assert cache.stats.l3_loads == loads + 1 and cache.stats.loads_by_cause["warm_up"] == 1
