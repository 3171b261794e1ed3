"""The projection engine on its in-memory store: no servers.

Random valid streams, partitioned as Kafka would, are delivered with duplicates, late
re-publishes, crashes between two writes and two members applying one partition at once;
the read models must equal a clean rebuild, and the derived ones a from-scratch recompute
of the stored states. Then the cases one by one, with the numbers they must show.
"""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.events import EventEnvelope
from shared.read_models import loaded_int

from merchant_testkit.event_stream import generate
from projectors.adapters.memory_store import Crash, MemoryEvents, MemoryReadModels
from projectors.application.engine import Batch, Delivery, apply_batch
from projectors.application.known import Known
from projectors.entrypoints.streams import MERCHANTS_STREAM, ORDERS_STREAM, PRODUCTS_STREAM
from tests.support.projection_sim import (
    Faults,
    clean_rebuild,
    derived_as_stored,
    from_scratch,
    logs_of,
    run_to_end,
    served,
)

T0 = datetime(2026, 3, 1, 9, tzinfo=UTC)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_faults_of_every_kind_still_equal_a_clean_rebuild_and_a_recompute(seed):
    events = generate(1500, seed=seed)
    rng = random.Random(seed)
    store, history = MemoryReadModels(swaps=True), MemoryEvents(events)  # views swap as on FerretDB
    faults = await run_to_end(
        store,
        history,
        logs_of(events, rng=rng, disorder=0.1),
        rng,
        max_records=60,
        faults=Faults(crash_rate=0.25, rebalance_rate=0.2),
    )
    assert faults.crashes and faults.rebalances  # the faults happened
    assert derived_as_stored(store) == from_scratch(store)
    assert served(store) == served(await clean_rebuild(events))


class Shop:
    """Events of one merchant, numbered per aggregate, delivered from one partition."""

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.clock = T0
        self.position = 0

    def event(self, kind: str, aggregate: str, type_: str, data: dict) -> EventEnvelope:
        self.versions[aggregate] = self.versions.get(aggregate, 0) + 1
        self.clock += timedelta(minutes=1)
        return EventEnvelope(
            type=type_,
            aggregate_type=kind,
            aggregate_id=aggregate,
            aggregate_version=self.versions[aggregate],
            merchant_id="m1",
            occurred_at=self.clock,
            correlation_id="c",
            data=data,
        )

    def product(self, pid: str, price: int, category: str = "shoes") -> EventEnvelope:
        body = {"sku": pid, "name": pid.title(), "category": category, "price": money(price), "stock": 100}
        return self.event("product", pid, "ProductCreated", {**body, "status": "published"})

    def reprice(self, pid: str, old: int, new: int) -> EventEnvelope:
        return self.event("product", pid, "ProductPriceChanged", {"price": money(new), "previous_price": money(old)})

    def order(self, oid: str, lines: dict[str, int], price: int = 100) -> EventEnvelope:
        rows = [
            {
                "product_id": p,
                "sku": p,
                "name": p.title(),
                "quantity": q,
                "unit_price": money(price),
                "line_total": q * price,
            }
            for p, q in lines.items()
        ]
        body = {
            "customer": {"email": "a@b.c"},
            "shipping_address": {"name": "A", "line1": "1", "city": "c", "postal_code": "1", "country": "BE"},
            "lines": rows,
            "currency": "EUR",
            "item_count": sum(lines.values()),
            "total": sum(r["line_total"] for r in rows),
        }
        return self.event("order", oid, "OrderPlaced", body)

    def paid(self, oid: str, amount: int) -> list[EventEnvelope]:
        return [
            self.event("order", oid, "OrderConfirmed", {}),
            self.event("order", oid, "OrderPaid", {"payment_reference": "r", "amount": amount}),
        ]

    def deliveries(self, events: list[EventEnvelope], source: str = "t#0") -> list[Delivery]:
        out = []
        for e in events:
            out.append(Delivery(e, source, self.position))
            self.position += 1
        return out


def money(amount: int) -> dict:
    return {"amount": amount, "currency": "EUR"}


async def project(store, stream, deliveries, history=None) -> None:
    await apply_batch(store, history or MemoryEvents(), stream, Batch.of(deliveries))


def category(store, key: str = "m1:shoes") -> tuple:
    doc = store.collection("categories")[key]
    return loaded_int(doc["product_count"]), doc["min_price"], doc["max_price"]


async def test_the_price_range_follows_prices_and_repairs_when_an_extreme_leaves():
    shop, store = Shop(), MemoryReadModels()
    await project(store, PRODUCTS_STREAM, shop.deliveries([shop.product(p, n) for p, n in (("a", 500), ("b", 300))]))
    await project(store, PRODUCTS_STREAM, shop.deliveries([shop.product("c", 700)]))
    assert category(store) == (3, 300, 700)
    await project(store, PRODUCTS_STREAM, shop.deliveries([shop.reprice("b", 300, 900)]))  # the cheapest leaves
    assert category(store) == (3, 500, 900)
    await project(store, PRODUCTS_STREAM, shop.deliveries([shop.event("product", "b", "ProductUnpublished", {})]))
    assert category(store) == (2, 500, 700)  # the dearest leaves
    archived = shop.event("product", "a", "ProductArchived", {})
    moved = shop.event("product", "c", "ProductDetailsUpdated", {"category": "hats"})
    await project(store, PRODUCTS_STREAM, shop.deliveries([archived, moved]))
    assert category(store) == (0, None, None) and category(store, "m1:hats") == (1, 700, 700)


async def test_a_category_write_that_changes_no_served_field_signals_no_invalidation():
    """GET /v1/categories shows each category's product count: a reprice moves only the
    price range, so the category is written but its cached answers are not invalidated;
    a product published into it changes the count and is signalled."""
    shop, store = Shop(), MemoryReadModels()

    async def signalled(events) -> set[str]:
        outcome = await apply_batch(store, MemoryEvents(), PRODUCTS_STREAM, Batch.of(shop.deliveries(events)))
        return {c.collection for c in outcome.changes}

    assert "categories" in await signalled([shop.product("a", 500)])
    assert "categories" not in await signalled([shop.reprice("a", 500, 900)])
    assert category(store) == (1, 900, 900)  # written all the same
    assert "categories" in await signalled([shop.product("b", 100)])


async def test_top_products_follow_payments_cancellations_and_refunds():
    shop, store = Shop(), MemoryReadModels()
    events = [shop.order("o1", {"a": 2}), *shop.paid("o1", 200), shop.order("o2", {"b": 5}), *shop.paid("o2", 500)]
    events += [shop.order("o3", {"c": 1, "a": 1}), *shop.paid("o3", 200), shop.order("o4", {"b": 1})]
    await project(store, ORDERS_STREAM, shop.deliveries(events))
    day = store.collection("merchant_stats")["m1:2026-03-01"]
    assert [(p["product_id"], p["units"]) for p in day["top_products"]] == [("b", 5), ("a", 3), ("c", 1)]
    cancel = shop.event("order", "o4", "OrderCancelled", {"reason": "no"})
    refund = [
        shop.event("order", "o2", "OrderShipped", {"carrier": "X", "tracking_number": "T"}),
        shop.event("order", "o2", "OrderRefunded", {"amount": 500}),
    ]
    await project(store, ORDERS_STREAM, shop.deliveries([cancel, *refund]))
    day = store.collection("merchant_stats")["m1:2026-03-01"]
    assert [(p["product_id"], p["units"]) for p in day["top_products"]] == [("a", 3), ("c", 1)]
    assert (day["revenue"], day["orders_by_status"]) == (400, {"cancelled": 1, "paid": 2, "refunded": 1})
    assert day == {**from_scratch(store)["merchant_stats"]["m1:2026-03-01"], **_guard(day)}


async def test_an_expired_order_ends_in_the_orders_view_and_counts_by_status_without_sales():
    shop, store = Shop(), MemoryReadModels()
    events = [shop.order("o1", {"a": 2}), *shop.paid("o1", 200), shop.order("o2", {"b": 1})]
    events.append(shop.event("order", "o2", "OrderExpired", {"unpaid_for_seconds": 86_400}))
    await project(store, ORDERS_STREAM, shop.deliveries(events))
    order = store.collection("orders")["o2"]
    assert (order["status"], order["open"], order["expired_at"] is not None) == ("expired", False, True)
    day = store.collection("merchant_stats")["m1:2026-03-01"]
    assert (day["revenue"], day["orders_by_status"]) == (200, {"expired": 1, "paid": 1})
    assert [(p["product_id"], p["units"]) for p in day["top_products"]] == [("a", 2)]
    assert day == {**from_scratch(store)["merchant_stats"]["m1:2026-03-01"], **_guard(day)}


def _guard(doc: dict) -> dict:
    return {k: doc[k] for k in ("version", "sources")}


async def test_a_redelivery_with_other_boundaries_after_a_crash_applies_each_change_once():
    shop, store = Shop(), MemoryReadModels()
    events = [shop.product("a", 500), shop.product("b", 300), shop.reprice("a", 500, 100)]
    events += [shop.product("c", 700), shop.reprice("a", 100, 800)]
    deliveries = shop.deliveries(events)
    store.crash_after(4)  # views, category counters (added, older deleted), categories; not the states
    with pytest.raises(Crash):
        await project(store, PRODUCTS_STREAM, deliveries)
    store.crash_after(None)
    assert category(store) == (3, 300, 800)  # the derived view is ahead of the states
    # Kafka redelivers from the committed offset, in other batches: the counter is past the
    # first one (skipped); the second starts before the counter's position and ends after
    # it, so c's creation (before) must not count twice and its archiving (after) once.
    await project(store, PRODUCTS_STREAM, deliveries[:3])
    await project(
        store, PRODUCTS_STREAM, deliveries[3:] + shop.deliveries([shop.event("product", "c", "ProductArchived", {})])
    )
    assert category(store) == (2, 300, 800)
    assert list(store.collection("category_counters")) == ["m1:shoes|t#0|6"]  # older positions deleted
    counter = store.collection("category_counters")["m1:shoes|t#0|6"]
    assert counter["counts"] == {"product_count": 2, "total_count": 2}


async def test_a_duplicate_batch_writes_no_derived_document():
    shop, store = Shop(), MemoryReadModels()
    deliveries = shop.deliveries([shop.product("a", 500), shop.order("o1", {"a": 1}), *shop.paid("o1", 100)])
    await project(store, PRODUCTS_STREAM, deliveries[:1])
    await project(store, ORDERS_STREAM, deliveries[1:])
    before = {name: dict(docs) for name, docs in store.collections.items()}
    calls = Counting(store)
    await project(calls, PRODUCTS_STREAM, deliveries[:1])
    await project(calls, ORDERS_STREAM, deliveries[1:])
    assert sum(n for _, n in calls.writes) == 0, calls.writes
    assert {name: dict(docs) for name, docs in store.collections.items()} == before


class Counting:
    """A store that counts what each call reads and writes (the cost of a batch)."""

    def __init__(self, inner: MemoryReadModels) -> None:
        self.inner = inner
        self.read: dict[str, int] = {}
        self.writes: list[tuple[str, int]] = []

    async def find_ids(self, collection, ids):
        found = await self.inner.find_ids(collection, ids)
        self.read[collection] = self.read.get(collection, 0) + len(found)
        return found

    async def find_in(self, collection, field, values):
        found = await self.inner.find_in(collection, field, values)
        self.read[collection] = self.read.get(collection, 0) + len(found)
        return found

    async def first(self, collection, equals, order, limit, positive=None):
        found = await self.inner.first(collection, equals, order, limit, positive)
        self.read[collection] = self.read.get(collection, 0) + len(found)
        return found

    def refusal(self, doc):
        return self.inner.refusal(doc)

    async def write_newer(self, collection, docs, known=None):
        self.writes.append((collection, len(docs)))
        await self.inner.write_newer(collection, docs, known)

    async def replace_newer(self, collection, docs, known=None):
        self.writes.append((collection, len(docs)))
        await self.inner.replace_newer(collection, docs, known)

    async def append(self, collection, docs):
        self.writes.append((collection, len(docs)))
        await self.inner.append(collection, docs)

    async def delete_ids(self, collection, ids):
        self.writes.append((collection, len(ids)))
        await self.inner.delete_ids(collection, ids)

    async def copy_merchant_names(self, collection, merchants):
        await self.inner.copy_merchant_names(collection, merchants)


async def test_a_batch_reads_what_it_touches_not_the_catalogue_or_the_day():
    shop, store = Shop(), MemoryReadModels()
    catalogue = [shop.product(f"p{i:05}", 1000 + i, ("shoes", "hats")[i % 2]) for i in range(3000)]
    orders = [e for i in range(300) for e in (shop.order(f"o{i}", {f"p{i:05}": 1}), *shop.paid(f"o{i}", 100))]
    await project(store, PRODUCTS_STREAM, shop.deliveries(catalogue))
    await project(store, ORDERS_STREAM, shop.deliveries(orders))
    calls = Counting(store)
    await project(calls, PRODUCTS_STREAM, shop.deliveries([shop.reprice("p00010", 1010, 5)]))
    await project(calls, ORDERS_STREAM, shop.deliveries([shop.order("new", {"p00010": 2}), *shop.paid("new", 10)]))
    assert sum(calls.read.values()) <= 20, calls.read
    assert max(n for _, n in calls.writes) == 1, calls.writes
    assert category(store) == (1500, 5, 1000 + 2998)


async def test_a_day_beyond_64_bits_of_revenue_is_stored_exactly():
    shop, store = Shop(), MemoryReadModels()
    price = 10**12  # the command side's largest price; 100 lines of 1,000 units each is 10^17
    events = []
    for i in range(100):
        order = shop.order(f"o{i}", {f"p{n}": 1000 for n in range(100)}, price)
        events += [order, *shop.paid(f"o{i}", order.data["total"])]
    await project(store, ORDERS_STREAM, shop.deliveries(events))
    day = store.collection("merchant_stats")["m1:2026-03-01"]
    assert loaded_int(day["revenue"]) == 100 * 10**17 and isinstance(day["revenue"], str)


async def test_an_unstorable_number_or_a_fold_bug_dead_letters_one_event_and_parks_its_aggregate_only():
    shop, store = Shop(), MemoryReadModels()
    huge = shop.order("huge", {"a": 1})
    huge = huge.model_copy(update={"data": {**huge.data, "total": 2**63}})
    fine = shop.order("fine", {"a": 1})
    outcome = await apply_batch(store, MemoryEvents(), ORDERS_STREAM, Batch.of(shop.deliveries([huge, fine])))
    assert [(e.aggregate_id, "64 bits" in reason) for e, reason in outcome.dead] == [("huge", True)]
    assert [(p.aggregate_id, p.version) for p in outcome.parked] == [("huge", 1)]
    assert "fine" in store.collection("orders") and "huge" not in store.collection("orders")

    from projectors.domain import merchant_products

    real = merchant_products.evolve

    def buggy(state, event, data):
        if event.aggregate_id == "b":
            raise KeyError("a bug")
        return real(state, event, data)

    broken = dataclasses.replace(PRODUCTS_STREAM, evolve=buggy)
    outcome = await apply_batch(
        store, MemoryEvents(), broken, Batch.of(shop.deliveries([shop.product("b", 1), shop.product("c", 2)]))
    )
    assert [(e.aggregate_id, reason.startswith("projector error")) for e, reason in outcome.dead] == [("b", True)]
    assert [p.aggregate_id for p in outcome.parked] == ["b"]
    assert "c" in store.collection("merchant_products")


async def _replay(events: list[EventEnvelope], known: Known | None) -> tuple[MemoryReadModels, dict[str, int]]:
    """A rebuild's replay (every event in store order, one source), counting what it reads."""
    store = MemoryReadModels()
    calls, history = Counting(store), MemoryEvents(events)
    for stream in (MERCHANTS_STREAM, PRODUCTS_STREAM, ORDERS_STREAM):
        mine = [e for e in events if e.aggregate_type == stream.aggregate_type]
        for start in range(0, len(mine), 200):
            chunk = [Delivery(e, "replay", start + i) for i, e in enumerate(mine[start : start + 200])]
            await apply_batch(calls, history, stream, Batch.of(chunk), known)
    return store, calls.read


@pytest.mark.parametrize("limit", [200_000, 3])
async def test_a_sole_writer_that_remembers_what_it_wrote_ends_as_one_that_reads_it_back(limit):
    events = generate(3000, seed=7)
    remembered, reads_remembered = await _replay(events, Known(limit))
    read_back, reads_read_back = await _replay(events, None)
    assert served(remembered) == served(read_back)
    assert derived_as_stored(remembered) == from_scratch(remembered)
    counters = ("category_counters", "merchant_stats_counters")
    if limit > 3:  # every key remembered: its counters are read once, when first touched
        assert sum(reads_remembered.get(c, 0) for c in counters) < sum(reads_read_back.get(c, 0) for c in counters) / 3
    else:  # keys forgotten at once are read again: the same result
        assert reads_remembered.get("category_counters", 0) > 0


async def test_a_failed_batch_makes_the_sole_writer_forget_what_it_knew():
    shop, known = Shop(), Known()
    store = MemoryReadModels()
    await project_known(store, shop.deliveries([shop.product("p1", 100)]), known)
    assert known.counters("category_counters", ["m1:shoes"])[1] == []

    class Failing(Counting):
        async def append(self, collection, docs):
            raise Crash("between two writes")

    with pytest.raises(Crash):
        await project_known(Failing(store), shop.deliveries([shop.reprice("p1", 100, 50)]), known)
    assert known.counters("category_counters", ["m1:shoes"])[1] == ["m1:shoes"]


async def project_known(store, deliveries, known: Known) -> None:
    await apply_batch(store, MemoryEvents(), PRODUCTS_STREAM, Batch.of(deliveries), known)


async def test_only_a_sole_writer_writes_states_and_views_by_swap_the_live_projector_in_place():
    class Recording(Counting):
        def __init__(self, inner):
            super().__init__(inner)
            self.kinds: dict[str, set[str]] = {}

        async def write_newer(self, collection, docs, known=None):
            self.kinds.setdefault(collection, set()).add("write_newer")
            await super().write_newer(collection, docs, known)

        async def replace_newer(self, collection, docs, known=None):
            self.kinds.setdefault(collection, set()).add("replace_newer")
            await super().replace_newer(collection, docs, known)

    shop = Shop()
    events = [shop.product("p1", 100), shop.reprice("p1", 100, 50), shop.product("p2", 70)]
    for known, kind in ((None, "replace_newer"), (Known(), "write_newer")):
        store = Recording(MemoryReadModels())
        for event in events:  # one batch each: the later ones replace stored documents
            await apply_batch(store, MemoryEvents(), PRODUCTS_STREAM, Batch.of(shop.deliveries([event])), known)
        assert store.kinds["merchant_products"] == {kind}
        assert store.kinds["catalog_products"] == {kind}
        assert store.inner.collection("catalog_products")["p1"]["price_amount"] == 50
