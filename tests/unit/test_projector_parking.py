"""Poison parks its aggregate (issue #18) on the in-memory store: the event a projector
cannot apply is dead-lettered, its aggregate's later events wait, every other aggregate of
the batch is written, and a retry replays the aggregate from the event store."""

from __future__ import annotations

import dataclasses

from projectors.adapters.memory_store import MemoryEvents, MemoryReadModels
from projectors.application.engine import Batch, apply_batch
from projectors.application.parking import PARKED, parkings
from projectors.application.unpark import retry
from projectors.domain import orders
from projectors.entrypoints.streams import ORDERS_STREAM
from tests.support.projection_sim import derived_as_stored, from_scratch
from tests.unit.test_projection_engine import Shop


def poisoned(event, total: int = 2**63):
    return event.model_copy(update={"data": {**event.data, "total": total}})


async def test_a_poison_event_parks_its_aggregate_its_later_events_wait_and_the_others_flow():
    shop, store = Shop(), MemoryReadModels()
    bad = poisoned(shop.order("bad", {"a": 1}))
    bad_later = shop.paid("bad", 100)
    good = shop.order("good", {"a": 2})
    history = MemoryEvents([bad, *bad_later, good])
    outcome = await apply_batch(store, history, ORDERS_STREAM, Batch.of(shop.deliveries([bad, good, *bad_later])))

    assert [(e.aggregate_id, e.aggregate_version) for e, _ in outcome.dead] == [("bad", 1)]  # not its later ones
    assert [(p.aggregate_id, p.version, "64 bits" in p.reason) for p in outcome.parked] == [("bad", 1, True)]
    assert "bad" not in store.collection("orders") and store.collection("orders")["good"]["total"] == 200
    assert [(d["stream"], d["aggregate_id"], d["version"]) for d in await parkings(store)] == [("orders", "bad", 1)]
    assert derived_as_stored(store) == from_scratch(store)

    # Parked: a later delivery of its events (a redelivery, a new event) waits, silently.
    late = shop.event("order", "bad", "OrderShipped", {"carrier": "c", "tracking_number": "t"})
    history.events.append(late)
    outcome = await apply_batch(store, history, ORDERS_STREAM, Batch.of(shop.deliveries([late])))
    assert (outcome.applied, outcome.dead, outcome.parked, outcome.waiting) == (0, [], [], 1)
    assert "bad" not in store.collection("orders")


async def test_an_aggregate_keeps_the_events_before_its_poison():
    shop, store = Shop(), MemoryReadModels()
    placed, confirmed, paid = shop.order("o", {"a": 1}), *shop.paid("o", 100)
    broken = dataclasses.replace(ORDERS_STREAM, evolve=_failing_on("OrderConfirmed"))
    outcome = await apply_batch(store, MemoryEvents(), broken, Batch.of(shop.deliveries([placed, confirmed, paid])))
    assert outcome.applied == 1 and [p.version for p in outcome.parked] == [2]
    assert store.collection("orders")["o"]["version"] == 1  # the version before the poison
    assert derived_as_stored(store) == from_scratch(store)


async def test_a_document_the_store_would_refuse_splits_the_batch_instead_of_failing_it():
    # The fold accepts the event but leaves a document no server can hold (here an
    # integer beyond 64 bits the fold did not check): only that aggregate is parked.
    shop, store = Shop(), MemoryReadModels()

    def leaky(state, event, data):
        doc = orders.evolve(state, event, data)
        return {**doc, "note": 2**64} if event.aggregate_id == "big" and event.type == "OrderPaid" else doc

    big, good = [shop.order("big", {"a": 1}), *shop.paid("big", 100)], shop.order("good", {"a": 1})
    stream = dataclasses.replace(ORDERS_STREAM, evolve=leaky)
    outcome = await apply_batch(store, MemoryEvents(), stream, Batch.of(shop.deliveries([*big, good])))
    assert [(p.aggregate_id, p.version, p.reason.startswith("unstorable")) for p in outcome.parked] == [
        ("big", 3, True)
    ]
    assert [e.aggregate_version for e, _ in outcome.dead] == [3]
    assert store.collection("orders")["big"]["version"] == 2 and "good" in store.collection("orders")
    assert derived_as_stored(store) == from_scratch(store)


async def test_retry_replays_the_aggregate_from_the_event_store_or_parks_it_again():
    shop, store = Shop(), MemoryReadModels()
    placed = shop.order("o", {"a": 3})
    confirmed, paid = shop.paid("o", 300)
    history = MemoryEvents([poisoned(placed), confirmed, paid])
    await apply_batch(store, history, ORDERS_STREAM, Batch.of(shop.deliveries([poisoned(placed)])))
    assert [d["aggregate_id"] for d in await parkings(store)] == ["o"]

    still = await retry(store, history, ORDERS_STREAM, "o")  # nothing fixed: parked again
    assert still.parked_again is not None and still.parked_again.version == 1 and still.applied == 0
    assert [d["aggregate_id"] for d in await parkings(store)] == ["o"]

    history.events[0] = placed  # the stored event corrected (or the projector fixed)
    done = await retry(store, history, ORDERS_STREAM, "o")
    assert done.parked_again is None and done.applied == 3
    assert store.collection(PARKED) == {}
    assert store.collection("orders")["o"]["version"] == 3 and store.collection("orders")["o"]["status"] == "paid"
    assert derived_as_stored(store) == from_scratch(store)
    # Its next event flows again, from the partition, after the replay's own source.
    shipped = shop.event("order", "o", "OrderShipped", {"carrier": "c", "tracking_number": "t"})
    history.events.append(shipped)
    outcome = await apply_batch(store, history, ORDERS_STREAM, Batch.of(shop.deliveries([shipped])))
    assert outcome.applied == 1 and store.collection("orders")["o"]["version"] == 4
    assert derived_as_stored(store) == from_scratch(store)


def _failing_on(type_: str):
    def evolve(state, event, data):
        if event.type == type_:
            raise KeyError("a bug")
        return orders.evolve(state, event, data)

    return evolve


class _Sent:
    def __await__(self):
        yield from ()


class _Producer:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, topic, value, key=None, headers=None):
        self.sent.append(topic)
        return _Sent()


class _Counters:
    async def update_one(self, *args, **kwargs) -> None:
        return None


async def test_the_projector_counts_and_logs_each_parking(caplog):
    from types import SimpleNamespace

    from shared.observability import metrics

    from projectors.entrypoints.app import COUNTERS, project
    from tests.unit.test_projector_entrypoints import Record

    shop = Shop()
    bad = poisoned(shop.order("bad", {"a": 1}))
    side = SimpleNamespace(
        store=MemoryReadModels(), history=MemoryEvents(), producer=_Producer(), db={COUNTERS: _Counters()}
    )
    before = metrics.projector_parked.labels("orders")._value.get()
    records = [Record("orders.events", 0, 7, bad.to_json())]
    await project(side, ORDERS_STREAM, "orders.events", records)  # type: ignore[arg-type]
    assert metrics.projector_parked.labels("orders")._value.get() == before + 1
    assert side.producer.sent == ["orders.events.dlq"]
    assert any("bad parked at v1" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
