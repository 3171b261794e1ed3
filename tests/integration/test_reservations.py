"""Crashes half-way through placing or cancelling an order, and the relay that settles
what was left — against the real MongoDB-compatible server.

A "crash" here is the state a dead process leaves behind: the steps before it are in
the store, the ones after it never ran.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.application import placement
from command_api.application.commands import OrderItem, PlaceOrder
from command_api.application.handlers import Services, Target
from command_api.application.ports import Commit, DuplicateCommand, Hold, Outcome, Release
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.order import Order
from command_api.domain.product import Product

pytestmark = pytest.mark.integration
MERCHANT = "m-reserve"


@pytest.fixture
async def side(mongo_db, settings) -> AsyncIterator[CommandSide]:
    """The write side on the real store; its publisher is never started (commits are
    marked by the relay passes the tests run), TTL and grace 0."""
    command_settings = CommandApiSettings(
        **dict(settings), reservation_ttl_seconds=0, relay_grace_seconds=0, immediate_publish=False
    )
    side = bootstrap(command_settings, db=mongo_db)
    await side.prepare()
    yield side
    await side.close()  # the relay's Kafka producer


def ctx(key: str | None = None) -> CommandContext:
    return CommandContext(MERCHANT, key or uuid.uuid4().hex, "corr", "fp" if key else None)


def place(*items: tuple[str, int]) -> PlaceOrder:
    return PlaceOrder.model_validate(
        {
            "items": [{"product_id": p, "quantity": q} for p, q in items],
            "customer": {"email": "a@b.co"},
            "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"},
        }
    )


async def new_product(side: CommandSide, stock: int) -> str:
    product = Product(str(uuid.uuid4()), MERCHANT)
    product.create(
        ev.ProductCreated(sku="S", name="Mug", category="k", price=ev.Money(amount=1200, currency="EUR"), stock=stock)
    )
    await side.repository.create(product, ctx())
    return product.id


async def stock_of(side: CommandSide, product_id: str) -> int:
    return (await side.repository.load(Product, product_id, MERCHANT)).stock


async def settle(side: CommandSide, *aggregates: str) -> list[Commit]:
    """Relay passes until these aggregates have nothing unpublished left (the publisher
    marks what it produced within a fraction of a second); what remains after 5 s."""
    for _ in range(50):
        await side.relay.run_once()
        pending = await side.outbox.unpublished(older_than=_later())
        if not (left := [c for c in pending if c.aggregate_id in aggregates]):
            return []
        await asyncio.sleep(0.1)
    return left


def _later():
    from datetime import timedelta

    from shared.events import utc_now

    return utc_now() + timedelta(seconds=5)


async def test_a_placement_that_died_after_holding_is_rolled_back_once_and_fenced(side):
    product = await new_product(side, stock=5)
    c = ctx(f"key-{uuid.uuid4().hex}")
    hold = Hold(
        order_id=c.new_aggregate_id(),
        command_id=c.command_id,
        correlation_id="corr",
        fingerprint="fp",
        product_ids=[product],
    )
    await placement._reserve_line(
        OrderItem(product_id=product, quantity=3), hold, c, side.repository, placement._Attempt()
    )
    assert await stock_of(side, product) == 2  # ... and the process died

    assert await settle(side, product) == []
    assert await stock_of(side, product) == 5
    fence = await side.store.find_by_command(c.command_id)
    assert isinstance(fence, Outcome) and fence.answer.body["error"]["code"] == "order_not_placeable"
    # The client's late retry gets the stored answer; nothing is placed or held again.
    with pytest.raises(DuplicateCommand) as raised:
        await placement.place_order(place((product, 3)), Target(c), side.services)
    assert isinstance(raised.value.earlier, Outcome)
    assert await stock_of(side, product) == 5
    assert await side.repository.load(Order, c.new_aggregate_id(), MERCHANT) is None


async def test_a_placement_that_died_after_placing_keeps_its_stock(side):
    product = await new_product(side, stock=5)
    quiet = Services(side.repository, side.store, side.skus, publisher=None)  # died before settling its hold
    saved = await placement.place_order(place((product, 2)), Target(ctx()), quiet)
    assert await settle(side, product, saved.aggregate_id) == []
    assert await stock_of(side, product) == 3
    assert (await side.repository.load(Order, saved.aggregate_id, MERCHANT)).status == "placed"


async def test_a_cancel_that_died_before_releasing_stock_is_finished(side):
    product = await new_product(side, stock=4)
    saved = await placement.place_order(place((product, 4)), Target(ctx()), side.services)

    def release(order: Order) -> Release:
        return Release(order_id=order.id, reason="order_cancelled", product_ids=[product])

    await side.repository.change(Order, saved.aggregate_id, ctx(), lambda o: o.cancel("bye"), intent=release)
    assert await stock_of(side, product) == 0  # ... died before giving the stock back

    assert await settle(side, product, saved.aggregate_id) == []
    assert await stock_of(side, product) == 4
    await side.relay.run_once()
    assert await stock_of(side, product) == 4  # given back once
