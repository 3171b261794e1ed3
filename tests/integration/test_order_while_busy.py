"""A one-line order while the store is busy (a batch in flight), on the real store: its hold
and its order are two appends, not one chain — the hold in one batch, the order in a
later one, after the product's lock is given up (``Repository.change_then_create``). An
idle store still takes them as one chain. Either way the order is stored only if its
hold is, and an order refused after its hold leaves the hold given back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.application import placement
from command_api.application.commands import PlaceOrder
from command_api.application.handlers import Target
from command_api.application.ports import DuplicateCommand
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.product import Product
from tests.contracts.records import commit, new_id, outcome

pytestmark = pytest.mark.integration
MERCHANT = "m1"


@pytest.fixture
async def side(mongo_db, settings) -> AsyncIterator[CommandSide]:
    side = bootstrap(CommandApiSettings(**dict(settings), immediate_publish=False), db=mongo_db)
    await side.prepare()
    yield side
    await side.close()


@pytest.fixture
def batches(side) -> list[list[int]]:
    """Per batch written, the number of records of each member (2: a chain)."""
    seen: list[list[int]] = []
    write = side.store.group_commit._write_batch

    async def recorded(members: Sequence) -> list:
        seen.append([len(m.records) for m in members])
        return await write(members)

    side.store.group_commit._write_batch = recorded
    return seen


async def a_product(side: CommandSide, stock: int) -> str:
    product = Product(str(uuid.uuid4()), MERCHANT)
    product.create(
        ev.ProductCreated(sku="S", name="Mug", category="k", price=ev.Money(amount=5, currency="EUR"), stock=stock)
    )
    await side.repository.create(product, CommandContext(MERCHANT, uuid.uuid4().hex, "corr"))
    return product.id


def one_line(product_id: str) -> PlaceOrder:
    return PlaceOrder.model_validate(
        {
            "items": [{"product_id": product_id, "quantity": 1}],
            "customer": {"email": "a@b.co"},
            "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"},
        }
    )


async def while_busy(side: CommandSide, *placing) -> list:
    """Run the placements while a batch is in flight: an append whose required write waits
    until they are all queued behind it."""
    release = asyncio.Event()

    async def held() -> None:
        await release.wait()

    busy = asyncio.create_task(side.store.append(commit(new_id(), 1), requires=held))
    await asyncio.sleep(0.05)
    assert not side.store.idle()
    tasks = [asyncio.create_task(p) for p in placing]
    await asyncio.sleep(0.05)
    release.set()
    await busy
    return await asyncio.gather(*tasks, return_exceptions=True)


async def test_an_order_placed_while_the_store_is_busy_is_two_appends(side, batches, mongo_db):
    product = await a_product(side, stock=5)
    batches.clear()
    ctx = CommandContext(MERCHANT, uuid.uuid4().hex, "corr", "fp")
    (saved,) = await while_busy(side, placement.place_order(one_line(product), Target(ctx), side.services))
    assert not isinstance(saved, BaseException), saved
    assert all(n == 1 for batch in batches for n in batch), batches  # no chain
    assert len(batches) == 3  # the busy one, the hold's, the order's
    order = await mongo_db["commits"].find_one({"aggregate_type": "order", "command_id": ctx.command_id})
    hold = await mongo_db["commits"].find_one({"aggregate_id": product, "intent.kind": "hold"})
    assert order is not None and hold is not None and hold["_id"] < order["_id"]
    assert (await side.repository.load(Product, product, MERCHANT)).stock == 4


async def test_an_idle_store_takes_the_hold_and_the_order_as_one_chain(side, batches):
    product = await a_product(side, stock=5)
    batches.clear()
    ctx = CommandContext(MERCHANT, uuid.uuid4().hex, "corr", "fp")
    await placement.place_order(one_line(product), Target(ctx), side.services)
    assert batches == [[2]]


async def test_orders_on_one_product_while_busy_sell_exactly_the_stock(side, mongo_db):
    """The product's lock is given up between the hold and the order: the next order's hold
    may go before the previous order — never more holds than stock, each order with its hold."""
    product = await a_product(side, stock=3)
    contexts = [CommandContext(MERCHANT, uuid.uuid4().hex, "corr", "fp") for _ in range(8)]
    results = await while_busy(
        side, *(placement.place_order(one_line(product), Target(ctx), side.services) for ctx in contexts)
    )
    placed = [r for r in results if not isinstance(r, BaseException)]
    assert len(placed) == 3, results
    assert all(type(r).__name__ in {"InsufficientStock", "AnswerRecorded"} for r in results if r not in placed)
    ids = [ctx.command_id for ctx in contexts]
    orders = await mongo_db["commits"].count_documents({"aggregate_type": "order", "command_id": {"$in": ids}})
    holds = await mongo_db["commits"].count_documents({"aggregate_id": product, "intent.kind": "hold"})
    assert orders == 3 and holds >= 3
    assert (await side.repository.load(Product, product, MERCHANT)).stock == 0


async def test_an_order_refused_after_its_hold_while_busy_gives_the_hold_back(side, mongo_db):
    product = await a_product(side, stock=1)
    ctx = CommandContext(MERCHANT, uuid.uuid4().hex, "corr", "fp")
    await side.store.append(outcome(ctx.command_id))  # its command id fenced (a relay's fence, say)
    (refused,) = await while_busy(side, placement.place_order(one_line(product), Target(ctx), side.services))
    assert isinstance(refused, DuplicateCommand)
    assert (await side.repository.load(Product, product, MERCHANT)).stock == 1  # given back
    assert await mongo_db["commits"].find_one({"aggregate_type": "order", "command_id": ctx.command_id}) is None
