"""The relay finds work through the outbox index when there is reason to look, and costs
nothing when no command arrives."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.adapters.memory.event_store import InMemoryEventStore
from command_api.application.repository import CommandContext, Repository
from command_api.bootstrap import CommandSide, bootstrap_in_memory
from command_api.domain.product import Product


class CountingOutbox(InMemoryEventStore):
    def __init__(self) -> None:
        super().__init__()
        self.queries = 0

    async def unpublished(self, older_than, limit=500, skip=(), leave=None):
        self.queries += 1
        return await super().unpublished(older_than, limit, skip, leave)


def side_with(outbox: CountingOutbox, **settings: float) -> CommandSide:
    return bootstrap_in_memory(CommandApiSettings(**{"relay_interval_seconds": 0.01, **settings}), store=outbox)


async def new_product(repo: Repository, product_id: str | None = None) -> Product:
    product = Product(product_id or str(uuid.uuid4()), "m")
    product.create(
        ev.ProductCreated(sku="S", name="N", category="c", price=ev.Money(amount=1, currency="EUR"), stock=1)
    )
    await repo.create(product, CommandContext("m", uuid.uuid4().hex, "c"))
    return product


@contextlib.asynccontextmanager
async def relaying(side: CommandSide):
    task = asyncio.create_task(side.relay.run_forever())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_an_idle_relay_makes_one_pass_at_start_and_then_none():
    outbox = CountingOutbox()
    side = side_with(outbox)
    async with relaying(side):
        await asyncio.sleep(0.3)  # thirty relay intervals
    assert outbox.queries == 1


async def test_commands_nudge_it_and_a_pass_publishes_what_was_left():
    outbox = CountingOutbox()
    side = side_with(outbox, relay_grace_seconds=0)
    async with relaying(side):
        await asyncio.sleep(0.05)
        left = await new_product(Repository(outbox, None))  # appended by a process that died
        side.relay.nudge()  # any command in this process
        for _ in range(50):
            if not await outbox.unpublished(older_than=_far_future()):
                break
            await asyncio.sleep(0.02)
        passes = outbox.queries
        await asyncio.sleep(0.2)
    assert left.id in {e.aggregate_id for e in side.publisher.produced}
    assert outbox.queries == passes  # and nothing more once the work was done


async def test_after_a_failed_publication_it_keeps_passing_until_caught_up():
    outbox = CountingOutbox()
    side = side_with(outbox, relay_grace_seconds=0)
    await new_product(Repository(outbox, None))
    side.publisher.fail_next = True
    async with relaying(side):
        for _ in range(50):
            if not side.publisher.degraded and side.publisher.produced:
                break
            await asyncio.sleep(0.02)
    assert not side.publisher.degraded and len(side.publisher.produced) == 1


def _far_future():
    from datetime import timedelta

    from shared.events import utc_now

    return utc_now() + timedelta(days=1)


async def test_a_commit_too_young_at_start_is_published_once_its_grace_passed():
    outbox = CountingOutbox()
    side = side_with(outbox, relay_grace_seconds=0.2)
    left = await new_product(Repository(outbox, None))  # just appended by a process that then died
    async with relaying(side):
        for _ in range(50):
            if side.publisher.produced:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
    assert [e.aggregate_id for e in side.publisher.produced] == [left.id]  # without any command nudging it
    assert outbox.queries == 2  # the pass at start, and the one at the end of the grace


async def test_an_unpublishable_commit_parks_its_aggregate_and_the_others_flow():
    store = CountingOutbox()
    side = side_with(store, relay_grace_seconds=0)
    side.publisher.unpublishable.add("p-poison")
    poison = await new_product(side.repository, "p-poison")
    other = await new_product(side.repository)  # published on the immediate path
    assert [e.aggregate_id for e in side.publisher.produced] == [other.id]
    assert await side.relay.run_once() == 0
    assert [p.aggregate_id for p in await side.parking.parked()] == [poison.id]
    ctx = CommandContext("m", uuid.uuid4().hex, "c")
    await side.repository.change(Product, poison.id, ctx, lambda p: p.adjust_stock(1, "r"))  # held: waits behind it
    assert [e.aggregate_id for e in side.publisher.produced] == [other.id]
    side.publisher.unpublishable.clear()  # fixed; `merchant parked retry` unparks it
    assert await side.parking.unpark([poison.id]) == 1
    assert await side.relay.run_once() == 2
    assert [(e.aggregate_id, e.aggregate_version) for e in side.publisher.produced[1:]] == [
        (poison.id, 1),
        (poison.id, 2),
    ]
