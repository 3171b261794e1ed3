"""Precise invalidation of cached list pages: a change drops the pages it can affect, and
only those (query_api.application.pages, L1Cache.drop_pages, subscriber.apply)."""

from __future__ import annotations

import time

import orjson

from query_api.adapters.cache.entry import Entry
from query_api.adapters.cache.epochs import Epochs
from query_api.adapters.cache.l1 import L1Cache
from query_api.adapters.cache.subscriber import apply
from query_api.application.pages import PageBounds, PageItems, matches, patched

C, M = "catalog_products", "m1"
FILTERS = {"visible": True, "merchant_id": M, "category": "hats", "price_amount": {"$gte": 100, "$lte": 900}}


def doc(i: str, price: int, **overrides) -> dict:
    return {"_id": i, "visible": True, "merchant_id": M, "category": "hats", "price_amount": price, **overrides}


def price_page(ids, lower, upper, direction=1) -> PageBounds:
    return PageBounds(frozenset(ids), FILTERS, "price_amount", direction, lower, upper)


def test_filter_matching_covers_the_forms_the_routes_build():
    assert matches(FILTERS, doc("a", 500))
    assert not matches(FILTERS, doc("a", 950))
    assert not matches(FILTERS, doc("a", 500, category="socks"))
    assert not matches(FILTERS, doc("a", 500, visible=False))
    assert matches({"stock_status": {"$in": ["in_stock", "low_stock"]}}, {"stock_status": "low_stock"})
    assert matches({"name_lower": {"$regex": "^bo"}}, {"name_lower": "boots"})
    assert not matches({"name_lower": {"$regex": "^bo"}}, {"name_lower": "hat"})
    assert not matches({"price_amount": {"$gte": 1}}, {})  # a missing field matches no range


def test_a_document_belongs_in_a_page_only_inside_its_range():
    middle = price_page({"b", "c"}, lower=(200, "a"), upper=(400, "c"))
    assert middle.affected_by(doc("x", 300))  # moved into the range
    assert middle.affected_by(doc("b", 400))  # ties the last item, id before it: inside
    assert not middle.affected_by(doc("z", 400))  # (400, "z") after the last item: next page
    assert not middle.affected_by(doc("x", 150))  # before the cursor: an earlier page
    assert not middle.affected_by(doc("x", 500))
    assert not middle.affected_by(doc("x", 300, category="socks"))  # not in this list at all
    first = price_page({"a"}, lower=None, upper=(200, "a"))
    assert first.affected_by(doc("x", 100)) and not first.affected_by(doc("x", 300))
    last = price_page({"d"}, lower=(400, "c"), upper=None)
    assert last.affected_by(doc("x", 900)) and not last.affected_by(doc("x", 300))
    newest_first = price_page({"b"}, lower=(400, "c"), upper=(200, "a"), direction=-1)
    assert newest_first.affected_by(doc("x", 300)) and not newest_first.affected_by(doc("x", 500))


def test_undecidable_documents_count_as_affecting():
    page = price_page({"b"}, lower=None, upper=(400, "c"))
    assert page.affected_by(doc("x", "not a number"))  # types that do not compare
    assert PageBounds(frozenset(), {"x": {"$where": "1"}}, "price_amount", 1, None, None).affected_by(doc("x", 1))


def cache_with_pages() -> tuple[L1Cache, Epochs]:
    epochs = Epochs()
    epochs.listening = True
    l1 = L1Cache(epochs, 100)
    tag = (C, M)
    pages = {
        "p1": price_page({"a", "b"}, None, (200, "b")),
        "p2": price_page({"c", "d"}, (200, "b"), (400, "d")),
        "p3": price_page({"e"}, (400, "d"), None),
    }
    for key, bounds in pages.items():
        l1.put(key, Entry.build(key.encode(), page=bounds), tag, epochs.current(tag), epochs.current_broad(tag), 60)
    for key, other in (("product-a", (C, "id:a")), ("categories", ("categories", M))):
        l1.put(key, Entry.build(key.encode()), other, epochs.current(other), epochs.current_broad(other), 60)
    return l1, epochs


def message(*ids: str) -> bytes:
    return orjson.dumps({"collection": C, "merchant_id": M, "ids": list(ids)})


def test_a_change_drops_the_pages_showing_it_and_keeps_the_others():
    l1, epochs = cache_with_pages()
    assert apply(message("c"), epochs, l1)[:3] == (C, M, ["c"])  # documents to read back
    assert l1.get("p2") is None  # showed "c": its old values must not be served
    assert l1.get("p1") is not None and l1.get("p3") is not None
    assert l1.get("product-a") is not None  # another product's page
    assert l1.get("categories") is not None  # another read model
    # read back: "c" now costs 150, so it belongs in the first page
    l1.drop_pages([(C, M)], set(), [doc("c", 150)])
    assert l1.get("p1") is None and l1.get("p3") is not None


def test_a_page_loading_during_a_precise_change_is_cached_only_if_unaffected():
    tag = (C, M)
    for changed_doc, cached in ((None, False), (doc("e", 950), True), (doc("e", 150), False)):
        l1, epochs = cache_with_pages()
        before, broad = epochs.current(tag), epochs.current_broad(tag)
        *_, change, _ = apply(message("e"), epochs, l1)
        if changed_doc is not None:  # read back: now outside (950) or inside (150) the page
            change.docs = [changed_doc]
        page = Entry.build(b"p4", page=price_page({"f"}, None, (200, "f")))
        l1.put("p4", page, tag, before, broad, 60)
        assert (l1.get("p4") is not None) is cached, changed_doc
    l1, epochs = cache_with_pages()  # a page showing the changed product: never
    before, broad = epochs.current(tag), epochs.current_broad(tag)
    *_, change, _ = apply(message("f"), epochs, l1)
    change.docs = [doc("f", 950)]
    l1.put("p4", Entry.build(b"p4", page=price_page({"f"}, None, (200, "f"))), tag, before, broad, 60)
    assert l1.get("p4") is None


def test_big_changes_and_changes_without_ids_drop_every_page():
    for ids in ([], [f"x{i}" for i in range(51)]):
        l1, epochs = cache_with_pages()
        assert apply(message(*ids), epochs, l1) is None
        assert all(l1.get(k) is None for k in ("p1", "p2", "p3"))
    l1, epochs = cache_with_pages()  # without read-back (no fetch): every page too
    assert apply(message("c"), epochs, None) is None
    assert all(l1.get(k) is None for k in ("p1", "p2", "p3"))


def test_a_failed_read_back_drops_every_page():
    import asyncio

    from query_api.adapters.cache.stats import CacheStats
    from query_api.adapters.cache.subscriber import recheck

    l1, epochs = cache_with_pages()

    async def failing(collection, ids):
        raise ConnectionError("MongoDB away")

    stats = CacheStats()
    *_, change, _ = apply(message("d"), epochs, l1)
    asyncio.run(recheck(failing, epochs, l1, stats, C, M, ["d"], change))
    assert l1.get("p1") is None and l1.get("p3") is None
    assert stats.broad_drops == 1


def test_page_bounds_survive_l2():
    from datetime import UTC, datetime

    from query_api.adapters.cache import entry as entries

    when = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    bounds = PageBounds(
        frozenset({"a", "b"}), {"merchant_id": M, "placed_at": {"$gte": when}}, "created_at", -1, (when, "b"), None
    )
    generation, back = entries.load(entries.dump(Entry.build(b"x" * 2000, page=bounds), 3, 1024))
    assert generation == 3 and back.page == bounds and back.body == b"x" * 2000
    assert back.page.affected_by(
        {"_id": "c", "merchant_id": M, "placed_at": when, "created_at": datetime(2026, 1, 1, tzinfo=UTC)}
    )


def test_orders_of_a_product_match_through_their_lines():
    line = {"product_id": "p-2", "quantity": 1}
    order = {"_id": "o1", "merchant_id": M, "placed_at": 5, "lines": [{"product_id": "p-1"}, line], "total": 10}
    filters = {"merchant_id": M, "lines.product_id": "p-2", "total": {"$gte": 10}}
    assert matches(filters, order)
    assert not matches(filters, {**order, "lines": [{"product_id": "p-1"}]})
    assert not matches(filters, {**order, "lines": []})
    assert not matches({"merchant_id": M, "status": {"$in": ["paid"]}}, {**order, "status": "placed"})
    page = PageBounds(frozenset(), filters, "placed_at", -1, None, None)
    assert page.affected_by(order) and not page.affected_by({**order, "lines": [{"product_id": "p-9"}]})
    assert page.affected_by({**order, "lines": ["not a line"]})  # a shape it cannot judge: affected


def render(d: dict) -> dict:
    return {"id": d["_id"], "price": d["price_amount"], "stock": d.get("stock", 0)}


def patchable_page(l1: L1Cache, epochs: Epochs, key: str = "p2") -> Entry:
    """A page of c (200) and d (400) with its items, as ``listing.load_page`` leaves it."""
    c, d = doc("c", 200, stock=5), doc("d", 400, stock=1)
    body = orjson.dumps({"data": [render(c), render(d)], "has_next": True, "next_cursor": "x"})
    entry = Entry.build(body, page=price_page({"c", "d"}, (100, "a"), (400, "d")))
    entry.items = PageItems(("c", "d"), (200, 400), render)
    tag = (C, M)
    l1.put(key, entry, tag, epochs.current(tag), epochs.current_broad(tag), 60)
    return entry


def change_to(l1: L1Cache, epochs: Epochs, changed: dict) -> int:
    """The subscriber's two steps: the message applied, then the document read back."""
    _, _, _, change, dropped = apply(message(changed["_id"]), epochs, l1)
    assert l1.get("p2") is None  # dropped at once: its old values are never served again
    change.docs, change.read_at = [changed], time.monotonic()
    return l1.patch_pages(dropped, [changed], change)


def test_a_stock_change_puts_the_page_back_as_a_reload_would_give_it():
    epochs = Epochs()
    epochs.listening = True
    l1 = L1Cache(epochs, 100)
    patchable_page(l1, epochs)
    assert change_to(l1, epochs, doc("d", 400, stock=0)) == 1
    patched = l1.get("p2")
    assert patched is not None
    assert orjson.loads(patched.body)["data"] == [render(doc("c", 200, stock=5)), render(doc("d", 400, stock=0))]
    assert patched.body == orjson.dumps(
        {"data": [render(doc("c", 200, stock=5)), render(doc("d", 400, stock=0))], "has_next": True, "next_cursor": "x"}
    )


def test_a_page_is_not_patched_when_the_item_moved_or_left_or_another_change_came():
    for changed in (doc("d", 300), doc("d", 400, category="socks")):  # another sort value; out of the filter
        epochs = Epochs()
        epochs.listening = True
        l1 = L1Cache(epochs, 100)
        patchable_page(l1, epochs)
        assert change_to(l1, epochs, changed) == 0 and l1.get("p2") is None

    epochs = Epochs()
    epochs.listening = True
    l1 = L1Cache(epochs, 100)
    patchable_page(l1, epochs)
    _, _, _, change, dropped = apply(message("d"), epochs, l1)
    epochs.bump(C, M, ["z"], precise=True)  # a later change of the tag, not yet checked against the page
    change.docs, change.read_at = [doc("d", 400, stock=0)], time.monotonic()
    assert l1.patch_pages(dropped, change.docs, change) == 0 and l1.get("p2") is None


def test_patched_pages_are_exactly_the_body_of_a_reload():
    bounds = price_page({"c", "d"}, (100, "a"), (400, "d"))
    items = PageItems(("c", "d"), (200, 400), render)
    body = orjson.dumps(
        {"data": [render(doc("c", 200)), render(doc("d", 400))], "has_next": False, "next_cursor": None}
    )
    assert patched(body, bounds, items, {"c": doc("c", 200, stock=9)}) == orjson.dumps(
        {"data": [render(doc("c", 200, stock=9)), render(doc("d", 400))], "has_next": False, "next_cursor": None}
    )
    assert patched(body, bounds, items, {"c": doc("c", 200.0)}) is None  # another type sorts elsewhere
