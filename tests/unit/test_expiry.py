"""The expirer on the in-memory adapters: unpaid orders end, paid ones stay, the seeder's
history is left alone, and the deadline comes from placements, not from a clock."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from shared.events import products as ev
from shared.events import utc_now
from shared.settings import CommandApiSettings

from command_api.application import placement
from command_api.application.commands import PlaceOrder
from command_api.application.handlers import Target
from command_api.application.ports import Commit
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap_in_memory
from command_api.domain.aggregate import InvalidState
from command_api.domain.order import Order
from command_api.domain.product import Product

MERCHANT = "m-expire"


@pytest.fixture
def side() -> CommandSide:
    return bootstrap_in_memory(CommandApiSettings(order_expiry_seconds=0.2, relay_interval_seconds=0.05))


def ctx() -> CommandContext:
    return CommandContext(MERCHANT, uuid.uuid4().hex, "corr")


def order_of(product_id: str, quantity: int) -> PlaceOrder:
    return PlaceOrder.model_validate(
        {
            "items": [{"product_id": product_id, "quantity": quantity}],
            "customer": {"email": "a@b.co"},
            "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"},
        }
    )


async def new_product(side: CommandSide, stock: int) -> str:
    product = Product(str(uuid.uuid4()), MERCHANT)
    product.create(
        ev.ProductCreated(sku="S", name="Mug", category="k", price=ev.Money(amount=100, currency="EUR"), stock=stock)
    )
    await side.repository.create(product, ctx())
    return product.id


async def stock_of(side: CommandSide, product_id: str) -> int:
    product = await side.repository.load(Product, product_id, MERCHANT)
    assert product is not None
    return product.stock


def test_only_unpaid_orders_expire():
    order = Order("o1", MERCHANT)
    for status in ("paid", "shipped", "cancelled", "expired"):
        order.status = status
        with pytest.raises(InvalidState):
            order.expire(10)


async def test_unpaid_orders_expire_at_their_deadline_and_their_stock_returns(side):
    product = await new_product(side, 10)
    runner = asyncio.create_task(side.expirer.run())
    await asyncio.sleep(0.3)
    assert side.expirer.passes == 0  # nothing placed: no pass
    unpaid = await placement.place_order(order_of(product, 3), Target(ctx()), side.services)
    paid = await placement.place_order(order_of(product, 2), Target(ctx()), side.services)
    await side.repository.change(Order, paid.aggregate_id, ctx(), lambda o: o.pay("r"))
    assert await stock_of(side, product) == 5
    await asyncio.sleep(0.6)
    runner.cancel()
    assert await stock_of(side, product) == 8
    assert [e.type for e in await side.store.load(unpaid.aggregate_id)][-1] == "OrderExpired"
    assert [e.type for e in await side.store.load(paid.aggregate_id)][-1] == "OrderPaid"
    assert side.expirer.expired == 1
    assert await side.store.placed_before(utc_now()) == []


async def test_the_seeders_published_history_is_not_expired(side):
    product = await new_product(side, 10)
    saved = await placement.place_order(order_of(product, 1), Target(ctx()), side.services)
    placed = next(
        r for r in side.store.records.values() if isinstance(r, Commit) and r.aggregate_id == saved.aggregate_id
    )
    seeded = dataclasses.replace(placed, id=ObjectId(), aggregate_id="o-seeded", command_id="seeded", published=True)
    await side.store.append(seeded)
    later = datetime.now(UTC) + timedelta(days=1)
    assert [c.aggregate_id for c in await side.store.placed_before(later)] == [saved.aggregate_id]


def test_the_orders_projection_shows_an_expired_order_as_ended():
    from shared.events import EventEnvelope
    from shared.events import orders as order_events

    from projectors.domain import orders as projection

    def envelope(version: int, body: order_events.Body) -> EventEnvelope:
        return EventEnvelope(
            type=type(body).__name__,
            aggregate_type="order",
            aggregate_id="o1",
            aggregate_version=version,
            merchant_id=MERCHANT,
            correlation_id="c",
            causation_id="c",
            data=body.model_dump(mode="json"),
        )

    placed = order_events.OrderPlaced(
        customer=order_events.Customer(email="a@b.co"),
        shipping_address=order_events.Address(name="A", line1="1", city="T", postal_code="1", country="FR"),
        lines=[
            order_events.OrderLine(
                product_id="p",
                sku="S",
                name="M",
                unit_price=ev.Money(amount=1, currency="EUR"),
                quantity=1,
                line_total=1,
            )
        ],
        currency="EUR",
        item_count=1,
        total=1,
    )
    doc = projection.evolve(None, envelope(1, placed), placed)
    expired = order_events.OrderExpired(unpaid_for_seconds=86_400)
    doc = projection.evolve(doc, envelope(2, expired), expired)
    assert doc["status"] == "expired" and doc["open"] is False and doc["expired_at"] is not None


def test_an_expired_order_counts_in_its_days_stats_by_status_with_no_revenue():
    from datetime import UTC, datetime

    from projectors.domain import merchant_stats

    placed_at = datetime(2026, 12, 1, 9, tzinfo=UTC)
    order = {
        "_id": "o1",
        "merchant_id": MERCHANT,
        "status": "expired",
        "placed_at": placed_at,
        "placed_day": "2026-12-01",
        "paid_amount": 0,
        "refunded_amount": 0,
        "item_count": 2,
        "payment_failures": 0,
        "shipped_at": None,
        "paid_at": None,
        "lines": [],
    }
    ((_, contribution),) = merchant_stats.contribution(order).items()
    assert contribution.counts["status:expired"] == 1
    assert contribution.counts["revenue"] == 0 and contribution.counts["units_sold"] == 0
