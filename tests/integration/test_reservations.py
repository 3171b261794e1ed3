"""Crashes half-way through placing or cancelling an order, and the reconciler that
finishes the work — against the real MongoDB-compatible server.

A "crash" here is the state a dead process leaves behind: the steps before it are in
the store, the ones after it never ran.
"""

from __future__ import annotations

import uuid

import pytest

from shared.events import products as ev

from command_api.adapters.event_store import EventStore
from command_api.adapters.reservations import ReservationStore
from command_api.application.commands import PlaceOrder
from command_api.application.placement import _order_placed, _reserve_line, place_order
from command_api.application.reconciler import Reconciler
from command_api.application.repository import CommandContext, Repository
from command_api.domain.order import Order
from command_api.domain.product import Product

pytestmark = pytest.mark.integration


@pytest.fixture
async def parts(mongo_db):
    store = EventStore(mongo_db)
    await store.create_indexes()
    reservations = ReservationStore(mongo_db)
    await reservations.create_indexes()
    repo = Repository(store, None)
    return repo, reservations, Reconciler(repo, reservations, ttl=0, grace=0)


async def new_product(repo: Repository, merchant: str, stock: int) -> str:
    product = Product(str(uuid.uuid4()), merchant)
    product.create(
        ev.ProductCreated(
            sku="S", name="Mug", category="kitchen", price=ev.Money(amount=1200, currency="EUR"), stock=stock
        )
    )
    await repo.save(product, CommandContext(merchant, uuid.uuid4().hex, "c"))
    return product.id


def place_command(product_id: str, quantity: int) -> PlaceOrder:
    return PlaceOrder.model_validate(
        {
            "items": [{"product_id": product_id, "quantity": quantity}],
            "customer": {"email": "a@b.co"},
            "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"},
        }
    )


async def stock_of(repo, product_id, merchant) -> int:
    return (await repo.load(Product, product_id, merchant)).stock


async def test_a_placement_that_died_after_reserving_is_rolled_back(parts):
    repo, reservations, reconciler = parts
    merchant, ctx = "m-a", CommandContext("m-a", uuid.uuid4().hex, "c")
    product = await new_product(repo, merchant, stock=5)
    order_id = ctx.new_aggregate_id()
    await reservations.begin(order_id, merchant, ctx.command_id, "c", [{"product_id": product, "quantity": 3}])
    await _reserve_line(order_id, product, 3, ctx, repo)  # ... and then the process died
    assert await stock_of(repo, product, merchant) == 2

    assert await reconciler.run_once() == 1
    assert await stock_of(repo, product, merchant) == 5
    assert (await reservations.get(order_id))["state"] == "released"
    assert await repo.load(Order, order_id, merchant) is None
    # A late retry of the same command cannot resurrect the expired reservation.
    with pytest.raises(Exception) as refused:
        await place_order(place_command(product, 3), ctx, repo, reservations)
    assert getattr(refused.value, "code", None) == "order_not_placeable"
    assert await stock_of(repo, product, merchant) == 5


async def test_a_placement_that_died_after_deciding_is_rolled_forward_once(parts):
    repo, reservations, reconciler = parts
    merchant, ctx = "m-b", CommandContext("m-b", uuid.uuid4().hex, "c")
    product = await new_product(repo, merchant, stock=5)
    order_id = ctx.new_aggregate_id()
    cmd = place_command(product, 2)
    await reservations.begin(order_id, merchant, ctx.command_id, "c", [{"product_id": product, "quantity": 2}])
    line = await _reserve_line(order_id, product, 2, ctx, repo)
    await reservations.move(
        order_id, "reserving", "placing", placed=_order_placed(cmd, [line]).model_dump(mode="json")
    )  # ... died here

    assert await reconciler.run_once() == 1
    order = await repo.load(Order, order_id, merchant)
    assert order.status == "placed" and order.total == 2400
    assert (await reservations.get(order_id))["state"] == "placed"
    # The client's retry finds the same order; nothing is appended twice.
    again = await place_order(cmd, ctx, repo, reservations)
    assert (again.aggregate_id, again.version) == (order_id, 1)
    assert await stock_of(repo, product, merchant) == 3


async def cancel_started(repo, reservations, merchant: str, stock: int, quantity: int):
    """An order placed, and a cancel that got as far as marking its record ``releasing``."""
    product = await new_product(repo, merchant, stock=stock)
    ctx = CommandContext(merchant, uuid.uuid4().hex, "c")
    placed = await place_order(place_command(product, quantity), ctx, repo, reservations)
    await reservations.move(placed.aggregate_id, "placed", "releasing", release_reason="order_cancelled")
    return product, placed


async def test_a_cancel_that_died_before_releasing_stock_is_finished(parts):
    repo, reservations, reconciler = parts
    merchant = "m-c"
    product, placed = await cancel_started(repo, reservations, merchant, stock=4, quantity=4)
    await repo.change(
        Order, placed.aggregate_id, CommandContext(merchant, uuid.uuid4().hex, "c"), lambda o: o.cancel("bye")
    )  # ... died before giving the stock back
    assert await stock_of(repo, product, merchant) == 0

    assert await reconciler.run_once() == 1
    assert await stock_of(repo, product, merchant) == 4
    assert (await reservations.get(placed.aggregate_id))["state"] == "released"


async def test_a_cancel_that_was_never_appended_keeps_the_stock_held(parts):
    repo, reservations, reconciler = parts
    merchant = "m-d"
    product, placed = await cancel_started(repo, reservations, merchant, stock=4, quantity=1)
    # ... died before OrderCancelled was appended: the order is still live.
    await reconciler.run_once()
    assert (await reservations.get(placed.aggregate_id))["state"] == "placed"
    assert await stock_of(repo, product, merchant) == 3
