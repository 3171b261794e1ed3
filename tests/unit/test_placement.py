"""Placing and cancelling orders on the in-memory adapters, including the states a
crashed process leaves behind and the relay's settlement of them. A "crash" is the
store as a dead process leaves it: the steps before it happened, the ones after did not."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.application import placement
from command_api.application.commands import CancelOrder, OrderItem, PlaceOrder
from command_api.application.handlers import Services, Target
from command_api.application.idempotency import AnswerRecorded
from command_api.application.ports import Commit, DuplicateCommand, Hold, Outcome, Release
from command_api.application.repository import CommandContext, Repository
from command_api.bootstrap import CommandSide, bootstrap_in_memory
from command_api.domain.order import Order
from command_api.domain.product import InsufficientStock, Product

MERCHANT = "m-place"


@pytest.fixture
def side() -> CommandSide:
    return bootstrap_in_memory(CommandApiSettings(reservation_ttl_seconds=0, relay_grace_seconds=0))


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
    product = await side.repository.load(Product, product_id, MERCHANT)
    assert product is not None
    return product.stock


def unpublished(side: CommandSide) -> list[Commit]:
    return [r for r in side.store.records.values() if isinstance(r, Commit) and not r.published]


async def test_an_order_holds_stock_and_is_settled_once_placed(side):
    a, b = await new_product(side, 5), await new_product(side, 5)
    saved = await placement.place_order(place((a, 2), (b, 1)), Target(ctx()), side.services)
    order = await side.repository.load(Order, saved.aggregate_id, MERCHANT)
    assert order.status == "placed" and order.total == 3600
    assert (await stock_of(side, a), await stock_of(side, b)) == (3, 4)
    assert unpublished(side) == []  # holds settled with the order: nothing for the relay
    assert [e.type for e in side.publisher.produced[-3:]] == ["StockReserved", "StockReserved", "OrderPlaced"]


async def test_a_refused_line_gives_back_the_lines_held_before_it(side):
    a, b = await new_product(side, 5), await new_product(side, 1)
    with pytest.raises(InsufficientStock):
        await placement.place_order(place((a, 2), (b, 3)), Target(ctx()), side.services)
    assert (await stock_of(side, a), await stock_of(side, b)) == (5, 1)
    assert unpublished(side) == []


async def test_a_keyed_refusal_is_stored_before_the_stock_goes_back(side):
    a = await new_product(side, 1)
    with pytest.raises(AnswerRecorded) as refused:
        await placement.place_order(place((a, 3)), Target(ctx("key-1")), side.services)
    assert refused.value.answer.status == 409
    outcome = await side.store.find_by_command("key-1")
    assert isinstance(outcome, Outcome) and outcome.fingerprint == "fp"
    assert outcome.answer.body["error"]["code"] == "insufficient_stock"


async def test_100_concurrent_orders_for_stock_10_place_exactly_10(side):
    a = await new_product(side, 10)
    results = await asyncio.gather(
        *(placement.place_order(place((a, 1)), Target(ctx()), side.services) for _ in range(100)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 10
    assert all(isinstance(r, InsufficientStock) for r in results if isinstance(r, Exception))
    assert await stock_of(side, a) == 0


async def crashed_after_holding(side: CommandSide, product_id: str, quantity: int, key: str) -> CommandContext:
    """A placement whose process died after its hold commit, before OrderPlaced."""
    c = ctx(key)
    hold = Hold(
        order_id=c.new_aggregate_id(), command_id=key, correlation_id="corr", fingerprint="fp", product_ids=[product_id]
    )
    item = OrderItem(product_id=product_id, quantity=quantity)
    await placement._reserve_line(item, hold, c, side.repository, placement._Attempt())
    return c


async def test_a_placement_that_died_after_holding_is_rolled_back_and_fenced(side):
    a = await new_product(side, 5)
    c = await crashed_after_holding(side, a, 3, "key-crash")
    assert await stock_of(side, a) == 2 and len(unpublished(side)) == 1

    assert await side.relay.run_once() >= 1
    assert await stock_of(side, a) == 5
    assert unpublished(side) == []
    fence = await side.store.find_by_command("key-crash")
    assert isinstance(fence, Outcome) and fence.answer.body["error"]["code"] == "order_not_placeable"
    # A late OrderPlaced of the paused request is refused by the fence.
    order = Order(c.new_aggregate_id(), MERCHANT)
    order.place(_placed(a))
    with pytest.raises(DuplicateCommand):
        await side.repository.create(order, c)
    assert await side.repository.load(Order, c.new_aggregate_id(), MERCHANT) is None


def _placed(product_id: str):
    from shared.events import orders as oe

    line = oe.OrderLine(
        product_id=product_id,
        sku="S",
        name="Mug",
        unit_price=oe.Money(amount=1200, currency="EUR"),
        quantity=3,
        line_total=3600,
    )
    return oe.OrderPlaced(
        customer=oe.Customer(email="a@b.co"),
        shipping_address=oe.Address(name="A", line1="1", city="T", postal_code="1", country="FR"),
        lines=[line],
        currency="EUR",
        item_count=3,
        total=3600,
    )


async def test_an_undecided_placement_is_left_alone_until_its_ttl(side):
    patient = bootstrap_in_memory(CommandApiSettings(reservation_ttl_seconds=60, relay_grace_seconds=0))
    a = await new_product(patient, 5)
    await crashed_after_holding(patient, a, 2, "key-young")
    await patient.relay.run_once()
    assert await stock_of(patient, a) == 3  # the request may still be running
    assert len(unpublished(patient)) == 1
    assert await patient.store.find_by_command("key-young") is None


async def test_a_retry_finishes_the_order_and_the_relay_settles_the_old_hold(side):
    a = await new_product(side, 5)
    c = await crashed_after_holding(side, a, 2, "key-retry")
    saved = await placement.place_order(place((a, 2)), Target(c), side.services)  # the client's retry
    assert saved.aggregate_id == c.new_aggregate_id()
    await side.relay.run_once()
    assert await stock_of(side, a) == 3  # the order keeps its units
    assert unpublished(side) == []


async def test_a_placement_that_died_after_placing_keeps_its_stock(side):
    a = await new_product(side, 5)
    quiet = Services(side.repository, side.store, side.skus, publisher=None)  # died before settling
    saved = await placement.place_order(place((a, 2)), Target(ctx("key-placed")), quiet)
    assert len(unpublished(side)) == 1
    await side.relay.run_once()
    assert await stock_of(side, a) == 3
    assert unpublished(side) == []
    assert (await side.repository.load(Order, saved.aggregate_id, MERCHANT)).status == "placed"


async def test_two_attempts_of_one_key_in_two_processes_place_one_order(side):
    a, b = await new_product(side, 3), await new_product(side, 3)
    other = Services(Repository(side.store, side.publisher), side.store, side.skus, side.publisher)
    first, second = await asyncio.gather(
        placement.place_order(place((a, 2)), Target(ctx("key-twice")), side.services),
        placement.place_order(place((b, 2)), Target(ctx("key-twice")), other),  # same key, other body
        return_exceptions=True,
    )
    outcomes = [first, second]
    assert sum(isinstance(o, DuplicateCommand) for o in outcomes) == 1
    await side.relay.run_once()
    stocks = (await stock_of(side, a), await stock_of(side, b))
    assert sorted(stocks) == [1, 3]  # one order holds its units, the other attempt gave its back


async def test_cancel_gives_every_line_back(side):
    a = await new_product(side, 5)
    saved = await placement.place_order(place((a, 4)), Target(ctx()), side.services)
    await placement.cancel_order(CancelOrder(reason="changed mind"), Target(ctx(), saved.aggregate_id), side.services)
    assert await stock_of(side, a) == 5
    assert unpublished(side) == []


async def test_a_cancel_that_died_before_releasing_is_finished_by_the_relay(side):
    a = await new_product(side, 4)
    saved = await placement.place_order(place((a, 4)), Target(ctx()), side.services)

    def release(order: Order) -> Release:
        return Release(order_id=order.id, reason="order_cancelled", product_ids=[a])

    await side.repository.change(Order, saved.aggregate_id, ctx(), lambda o: o.cancel("bye"), intent=release)
    assert await stock_of(side, a) == 0  # ... and the process died
    await side.relay.run_once()
    assert await stock_of(side, a) == 4
    assert unpublished(side) == []
    again = await side.relay.run_once()
    assert again == 0 and await stock_of(side, a) == 4  # released once


async def test_the_relay_publishes_each_aggregate_in_version_order_behind_an_undecided_hold():
    patient = bootstrap_in_memory(CommandApiSettings(reservation_ttl_seconds=60, relay_grace_seconds=0))
    a = await new_product(patient, 5)
    await crashed_after_holding(patient, a, 1, "key-block")
    # v3, appended by a process whose publisher is down: left to the relay
    await Repository(patient.store, None).change(Product, a, ctx(), lambda p: p.adjust_stock(1, "later"))
    produced = len(patient.publisher.produced)
    await patient.relay.run_once()
    assert patient.publisher.produced[produced:] == []  # v3 waits behind the undecided v2
    assert [c.version for c in unpublished(patient)] == [2, 3]


async def test_a_retry_after_a_failed_attempt_finishes_the_order_and_keeps_its_holds(side):
    a = await new_product(side, 5)
    c = await crashed_after_holding(side, a, 2, "key-bound")
    await side.store.append(Outcome("key-bound", MERCHANT, None, "fp"))  # the failed attempt's binding
    saved = await placement.place_order(place((a, 2)), Target(c), side.services)  # the same request again
    assert saved.aggregate_id == c.new_aggregate_id()
    assert isinstance(await side.store.find_by_command("key-bound"), Commit)
    await side.relay.run_once()
    assert await stock_of(side, a) == 3 and unpublished(side) == []


async def test_a_binding_decides_nothing_and_past_the_ttl_the_fence_replaces_it(side):
    a = await new_product(side, 5)
    await crashed_after_holding(side, a, 2, "key-bound-2")
    await side.store.append(Outcome("key-bound-2", MERCHANT, None, "fp"))
    await side.relay.run_once()  # TTL 0 in this fixture
    assert await stock_of(side, a) == 5
    fence = await side.store.find_by_command("key-bound-2")
    assert isinstance(fence, Outcome) and fence.answer is not None and fence.answer.status == 409
