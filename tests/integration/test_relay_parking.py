"""A commit Kafka refuses parks its aggregate; every other commit reaches Kafka — on the
real store and broker. (Before: one such commit failed every relay pass, for everyone.)"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from shared.events import products as ev
from shared.observability import metrics
from shared.settings import CommandApiSettings

from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.product import Product
from merchant_testkit.plugin import own_namespace_fixtures

pytestmark = pytest.mark.integration
MERCHANT = "m-parking"
# The relay publishes every unpublished commit of its database: other modules' commits
# (left unpublished on purpose) would be counted in this module's passes.
server_env, settings, mongo_db = own_namespace_fixtures()


@pytest.fixture
async def side(mongo_db, settings) -> AsyncIterator[CommandSide]:
    command_settings = CommandApiSettings(**dict(settings), relay_grace_seconds=0, immediate_publish=False)
    side = bootstrap(command_settings, db=mongo_db)
    await side.prepare()
    yield side
    await side.close()


def ctx() -> CommandContext:
    return CommandContext(MERCHANT, uuid.uuid4().hex, "corr")


async def new_product(side: CommandSide, description: str = "") -> str:
    product = Product(str(uuid.uuid4()), MERCHANT)
    product.create(
        ev.ProductCreated(
            sku="S",
            name="Mug",
            description=description,
            category="k",
            price=ev.Money(amount=5, currency="EUR"),
            stock=1,
        )
    )
    await side.repository.create(product, ctx())
    return product.id


async def test_an_unpublishable_commit_parks_its_aggregate_while_others_reach_kafka(side, published_events):
    before = await new_product(side)
    poison = await new_product(side, description="x" * 2_000_000)  # over the producer's 1 MiB
    await side.repository.change(Product, poison, ctx(), lambda p: p.adjust_stock(2, "restock"))  # waits behind it
    after = await new_product(side)
    parked_before = metrics.relay_parked._value.get()

    assert await side.relay.run_once() == 2
    await published_events.assert_published("ProductCreated", aggregate_id=before)
    await published_events.assert_published("ProductCreated", aggregate_id=after)
    (parked,) = [p for p in await side.parking.parked() if p.aggregate_id == poison]
    assert parked.version == 1 and "MessageSizeTooLarge" in parked.reason
    assert metrics.relay_parked._value.get() == parked_before + 1

    later = await new_product(side)  # the next pass skips the parked aggregate in its query
    assert await side.relay.run_once() >= 1  # (a commit of the first pass not yet marked may go again)
    await published_events.assert_published("ProductCreated", aggregate_id=later)
    assert published_events.matching(aggregate_id=poison) == []  # neither v1 nor the v2 behind it
    unpublished = await side.outbox.unpublished(older_than=parked.parked_at.replace(year=2100))
    assert [c.version for c in unpublished if c.aggregate_id == poison] == [1, 2]

    assert await side.parking.unpark([poison]) == 1  # retried: still refused, parked again
    await side.relay.run_once()  # (commits of earlier passes not yet marked may go again: no count)
    assert published_events.matching(aggregate_id=poison) == []
    assert [p.aggregate_id for p in await side.parking.parked()] == [poison]
