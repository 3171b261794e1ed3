"""The pure folds of the read models: no servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.events import EventEnvelope, decode_data
from shared.read_models import loaded_int

from projectors.domain import catalog_products, categories, merchant_products, merchant_stats, orders
from projectors.domain.errors import Unprojectable

T0 = datetime(2026, 3, 1, 10, tzinfo=UTC)


def event(type_: str, version: int, data: dict, aggregate="p1", kind="product", at=T0) -> EventEnvelope:
    return EventEnvelope(
        type=type_,
        aggregate_type=kind,
        aggregate_id=aggregate,
        aggregate_version=version,
        merchant_id="m1",
        correlation_id="c",
        occurred_at=at,
        data=data,
    )


def fold(module, events):
    state = None
    for e in events:
        state = module.evolve(state, e, decode_data(e))
    return state


CREATED = {
    "sku": "A",
    "name": "Boots",
    "category": "shoes",
    "status": "published",
    "price": {"amount": 250, "currency": "EUR"},
    "stock": 10,
}


def test_product_fold_tracks_stock_units_sold_and_visibility():
    state = fold(
        merchant_products,
        [
            event("ProductCreated", 1, CREATED),
            event("StockReserved", 2, {"order_id": "o1", "quantity": 6, "stock": 4}),
            event("StockReleased", 3, {"order_id": "o1", "quantity": 2, "stock": 6, "reason": "order_cancelled"}),
            event("ProductUnpublished", 4, {}),
            event("ProductDetailsUpdated", 5, {"name": "Hiking Boots"}),
        ],
    )
    assert (state["stock"], state["units_sold"], state["stock_status"]) == (6, 4, "in_stock")
    assert state["visible"] is False and state["status"] == "draft"
    assert state["name_lower"] == "hiking boots" and state["version"] == 5
    view = catalog_products.view(state)
    assert "stock" not in view and "units_sold" not in view and view["stock_status"] == "in_stock"


def test_events_before_creation_are_unprojectable():
    with pytest.raises(Unprojectable):
        fold(merchant_products, [event("ProductPublished", 1, {})])


def test_stock_status_thresholds():
    assert [merchant_products.stock_status(n) for n in (0, 1, 5, 6)] == [
        "out_of_stock",
        "low_stock",
        "low_stock",
        "in_stock",
    ]


PLACED = {
    "customer": {"email": "A@x.com"},
    "currency": "EUR",
    "item_count": 3,
    "total": 750,
    "shipping_address": {"name": "A", "line1": "l", "city": "c", "postal_code": "1", "country": "BE"},
    "lines": [
        {
            "product_id": "p1",
            "sku": "A",
            "name": "Boots",
            "quantity": 3,
            "unit_price": {"amount": 250, "currency": "EUR"},
            "line_total": 750,
        }
    ],
}


def order_events():
    o = dict(aggregate="o1", kind="order")
    return [
        event("OrderPlaced", 1, PLACED, **o),
        event("OrderConfirmed", 2, {}, **o),
        event("OrderPaymentFailed", 3, {"reason": "declined"}, **o),
        event("OrderPaid", 4, {"payment_reference": "r", "amount": 750}, **o),
        event("OrderShipped", 5, {"carrier": "DHL", "tracking_number": "T"}, at=T0 + timedelta(hours=2), **o),
    ]


def test_order_fold_keeps_history_and_lines_at_order_time():
    state = fold(orders, order_events())
    assert state["status"] == "shipped" and state["open"] is False
    assert [h["status"] for h in state["status_history"]] == ["placed", "confirmed", "paid", "shipped"]
    assert state["lines"][0]["unit_price"] == {"amount": 250, "currency": "EUR"}
    assert state["customer_email"] == "a@x.com" and state["payment_failures"] == 1
    assert state["placed_day"] == "2026-03-01"


def test_stats_are_derived_from_orders():
    order = fold(orders, order_events())
    other = fold(orders, [event("OrderPlaced", 1, PLACED, aggregate="o2", kind="order")])
    stats = merchant_stats.stats_for("m1", "2026-03-01", [order, other])
    assert stats["orders_placed"] == 2 and stats["orders_by_status"] == {"placed": 1, "shipped": 1}
    assert stats["revenue"] == 750 and stats["units_sold"] == 3 and stats["average_order_value"] == 750
    assert stats["payment_success_rate"] == 0.5
    assert stats["average_processing_seconds"] == 7200
    assert stats["top_products"] == [{"product_id": "p1", "name": "Boots", "units": 3}]


def test_a_day_of_maximum_orders_stores_its_revenue_exactly_beyond_64_bits():
    # The command side allows 100 lines of 1,000 units at 10^12: 10^17 an order.
    huge = {**fold(orders, order_events()), "paid_amount": 10**17, "item_count": 10**5}
    day = [{**huge, "_id": f"o{i}"} for i in range(100)]
    stats = merchant_stats.stats_for("m1", "2026-03-01", day)
    assert stats["revenue"] == str(10**19) and loaded_int(stats["revenue"]) == 100 * 10**17
    assert loaded_int(stats["average_order_value"]) == 10**17


def test_categories_count_published_and_live_products_and_their_price_range():
    def product(category, status, price):
        return {"merchant_id": "m1", "category": category, "status": status, "price_amount": price}

    docs = categories.from_products(
        [
            product("shoes", "published", 300),
            product("shoes", "published", 100),
            product("shoes", "draft", 50),
            product("hats", "archived", 10),
        ]
    )
    assert list(docs) == ["m1:shoes"]
    shoes = docs["m1:shoes"]
    assert (shoes["product_count"], shoes["total_count"], shoes["min_price"], shoes["max_price"]) == (2, 3, 100, 300)


def test_numbers_beyond_64_bits_make_an_event_unprojectable():
    with pytest.raises(Unprojectable, match="64 bits"):
        fold(orders, [event("OrderPlaced", 1, {**PLACED, "total": 2**63}, aggregate="o1", kind="order")])


def test_event_times_are_kept_to_the_millisecond_as_bson_does():
    at = T0.replace(microsecond=123456)
    state = fold(merchant_products, [event("ProductCreated", 1, CREATED, at=at)])
    assert state["created_at"].microsecond == 123000


def test_docs_list_every_index():
    from pathlib import Path

    from shared.read_model_indexes import INDEXES

    table = (Path(__file__).parents[2] / "docs" / "indexes.md").read_text()
    assert all(f"| `{spec.name}` |" in table for spec in INDEXES)
