"""L1 is bounded by entries and by bytes, and what it counts per entry is not less than
what the entry holds (tracemalloc), so ``l1_max_bytes`` bounds the process's memory."""

from __future__ import annotations

import gc
import tracemalloc
import uuid

import orjson

from merchant_testkit.read_models import product_doc
from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import Epochs, id_tag
from query_api.adapters.cache.l1 import L1Cache
from query_api.application.pages import PageBounds

TAG = ("catalog_products", "m1")


def _listening() -> Epochs:
    epochs = Epochs()
    epochs.listening = True
    return epochs


def _page(n_items: int = 20) -> Entry:
    items = [{**product_doc("m1", i), "_id": str(uuid.uuid4())} for i in range(n_items)]
    body = orjson.dumps({"items": items, "next_cursor": "c" * 120}, default=str)
    ids = frozenset(item["_id"] for item in items)
    bounds = PageBounds(ids, {"category": "shoes"}, "price_amount", 1, (1, "a" + uuid.uuid4().hex), None)
    return Entry.build(body, page=bounds)


def _put(l1: L1Cache, epochs: Epochs, key: str, entry: Entry, tag=TAG) -> None:
    l1.put(key, entry, tag, epochs.current(tag), epochs.current_broad(tag), ttl=60)


def test_l1_keeps_within_its_bytes_dropping_the_least_recently_used():
    epochs = _listening()
    l1 = L1Cache(epochs, 10_000, max_bytes=200_000)
    for i in range(50):
        _put(l1, epochs, f"page{i}", _page())
        assert l1.bytes <= 200_000
    assert 0 < len(l1) < 50
    assert l1.get("page49") is not None  # the newest stays
    assert l1.get("page0") is None  # the oldest went first


def test_l1_keeps_within_its_entries_when_entries_are_small():
    epochs = _listening()
    l1 = L1Cache(epochs, 10, max_bytes=10**9)
    for i in range(100):
        _put(l1, epochs, f"p{i}", Entry.build(b"{}"), id_tag("catalog_products", f"p{i}"))
    assert len(l1) == 10


def test_an_entry_larger_than_the_whole_l1_is_not_kept_and_does_not_fail():
    epochs = _listening()
    l1 = L1Cache(epochs, 10, max_bytes=4_000)
    _put(l1, epochs, "big", _page())
    assert l1.get("big") is None and l1.bytes == 0


def _held_and_counted(make, tags: list) -> tuple[float, float]:
    """(bytes traced, bytes counted) per entry: each entry is built (body, compressed form,
    page bounds) and put while tracing, as a load builds and caches it."""
    epochs = _listening()
    for tag in tags:
        epochs.current(tag)  # the tag's counters are the epochs', not L1's
    l1 = L1Cache(epochs, 100_000, max_bytes=2**40)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i, tag in enumerate(tags):
            _put(l1, epochs, f"key:{uuid.uuid4().hex}:{i}", make(i), tag)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    return traced / len(tags), l1.bytes / len(tags)


def _product(i: int) -> Entry:
    return Entry.build(orjson.dumps({**product_doc("m1", i), "_id": str(uuid.uuid4())}, default=str))


def test_what_l1_counts_for_a_page_or_a_product_covers_what_it_holds():
    held, counted = _held_and_counted(lambda i: _page(), [TAG] * 200)
    assert held <= counted <= 1.5 * held, (held, counted)
    held, counted = _held_and_counted(_product, [id_tag("catalog_products", f"p{i}") for i in range(500)])
    assert held <= counted <= 1.5 * held, (held, counted)


def test_a_cached_body_holds_its_own_size_not_the_serialiser_buffer():
    """orjson's bytes keep its growing buffer (a 700 B product held 4 KB): the entry keeps
    an exact copy, so what L1 counts is what it holds."""
    docs = [{**product_doc("m1", i), "_id": str(uuid.uuid4())} for i in range(200)]
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        entries = [Entry.build(orjson.dumps(doc, default=str)) for doc in docs]
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    body = sum(len(e.body) for e in entries)
    per_entry = (traced - body) / len(entries)
    assert per_entry < 400, per_entry  # the Entry, its ETag and dict: ~260 B (orjson's buffer: ~3.6 KB)
