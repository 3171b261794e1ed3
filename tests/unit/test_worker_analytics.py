"""Analytics counters by increments, exactly once (``workers.application.analytics``): pure."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import EventEnvelope

from workers.application.analytics import Delivered, customer_key, increments, read_model

AT = datetime(2026, 11, 29, 10, tzinfo=UTC)  # 2026-W48, 2026-11


def placed(order: str, email: str, product: str, qty: int, price: int, merchant: str = "m") -> EventEnvelope:
    line = {"product_id": product, "sku": "S", "name": product, "quantity": qty, "line_total": qty * price}
    line["unit_price"] = {"amount": price, "currency": "EUR"}
    return EventEnvelope(
        type="OrderPlaced",
        aggregate_type="order",
        aggregate_id=order,
        aggregate_version=1,
        merchant_id=merchant,
        correlation_id="c",
        occurred_at=AT,
        data={
            "customer": {"email": email},
            "shipping_address": {"name": "A", "line1": "1", "city": "T", "postal_code": "1", "country": "FR"},
            "lines": [line],
            "currency": "EUR",
            "total": qty * price,
            "item_count": qty,
        },
    )


def cancelled(order: str, merchant: str = "m") -> EventEnvelope:
    return EventEnvelope(
        type="OrderCancelled",
        aggregate_type="order",
        aggregate_id=order,
        aggregate_version=2,
        merchant_id=merchant,
        correlation_id="c",
        data={"reason": "x"},
    )


def batch(*events: EventEnvelope, start: int = 0) -> list[Delivered]:
    return [Delivered(0, start + i, e) for i, e in enumerate(events)]


def applied(inc, counters=None):
    """The counters document after applying ``inc`` (as $inc would)."""
    doc = counters or {}
    for path, value in inc.counters.get("m", {}).items():
        node = doc
        *parents, leaf = path.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = node.get(leaf, 0) + value
    return doc


def test_placements_add_orders_sales_units_and_customers_and_a_cancel_takes_back_sales():
    events = batch(
        placed("o1", "ann@x.io", "mug", 3, 1000),
        placed("o2", "ann@x.io", "towel", 1, 500),
        placed("o3", "cat@x.io", "mug", 9, 1000),
        cancelled("o3"),
    )
    inc = increments(events, {}, {}, {})
    doc = read_model("m", applied(inc), customers=2, repeat=1, now=AT).document()
    assert doc["weekly"] == [{"week": "2026-W48", "currency": "EUR", "orders": 3, "sales": 3500}]
    assert [(p["product_id"], p["units"]) for p in doc["top_products"]] == [("mug", 3), ("towel", 1)]
    assert inc.customers[customer_key("m", "ann@x.io")] == ("m", 2)
    assert inc.counted["m"] == {"p0": 3}
    assert inc.facts["o3"]["status"] == "cancelled" and inc.facts["o1"]["counted"] is True


def test_an_expired_order_takes_back_its_sales_like_a_cancel():
    expired = cancelled("o2").model_copy(update={"type": "OrderExpired", "data": {"unpaid_for_seconds": 60}})
    inc = increments(
        batch(placed("o1", "ann@x.io", "mug", 3, 1000), placed("o2", "bob@x.io", "mug", 2, 1000), expired), {}, {}, {}
    )
    doc = read_model("m", applied(inc), customers=2, repeat=0, now=AT).document()
    assert doc["weekly"] == [{"week": "2026-W48", "currency": "EUR", "orders": 2, "sales": 3000}]
    assert [(p["product_id"], p["units"]) for p in doc["top_products"]] == [("mug", 3)]
    assert inc.facts["o2"]["status"] == "expired"


def test_a_redelivered_batch_counts_nothing_again_but_writes_its_facts():
    events = batch(placed("o1", "ann@x.io", "mug", 1, 100), cancelled("o1"))
    first = increments(events, {}, {}, {})
    again = increments(events, {}, first.counted, first.counted)  # the facts write was lost
    assert again.counters == {} and again.customers == {}
    assert again.facts["o1"]["status"] == "cancelled"


def test_a_batch_recut_on_redelivery_counts_only_what_it_adds():
    first = increments(batch(placed("o1", "a@x.io", "mug", 1, 100)), {}, {}, {})
    bigger = batch(placed("o1", "a@x.io", "mug", 1, 100), placed("o2", "b@x.io", "mug", 2, 100))
    inc = increments(bigger, {}, first.counted, first.counted)
    assert dict(inc.counters["m"]) == {
        "weekly.2026-W48|EUR.orders": 1,
        "weekly.2026-W48|EUR.sales": 200,
        "monthly.2026-11|EUR.orders": 1,
        "monthly.2026-11|EUR.sales": 200,
        "products.mug.units": 2,
        "products.mug.sales": 200,
    }


def test_an_event_published_twice_is_counted_once_by_its_fact():
    first = increments(batch(placed("o1", "a@x.io", "mug", 1, 100)), {}, {}, {})
    later = increments(batch(placed("o1", "a@x.io", "mug", 1, 100), start=7), first.facts, first.counted, {})
    assert later.counters == {} and later.customers == {}
