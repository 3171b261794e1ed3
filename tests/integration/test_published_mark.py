"""The published-mark is bookkeeping off the command's path (``command_api.adapters.publisher``):
once Kafka acked a commit, its mark waits in memory to be gathered with others. Meanwhile
the relay leaves the commit alone (it is *in hand*), so a pending mark never publishes it
twice; a mark that fails leaves it to the relay, which publishes it again (at-least-once,
the same event ids) — on the real store and broker."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from bson import ObjectId

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.adapters import publisher as publisher_module
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.product import Product
from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.waiting import wait_until

pytestmark = pytest.mark.integration
MERCHANT = "m-marks"
# The relay publishes every unpublished commit of its database: this module's own.
server_env, settings, mongo_db = own_namespace_fixtures()


@pytest.fixture
async def side(mongo_db, settings, monkeypatch) -> AsyncIterator[CommandSide]:
    monkeypatch.setattr(publisher_module, "MARK_DELAY", 1.0)  # a window the test can look through
    side = bootstrap(CommandApiSettings(**dict(settings), relay_grace_seconds=0), db=mongo_db)
    await side.prepare()
    await side.resources.start()  # the publisher's task; relay passes are the test's own
    yield side
    await side.close()


async def new_product(side: CommandSide) -> tuple[str, ObjectId]:
    product = Product(str(uuid.uuid4()), MERCHANT)
    product.create(
        ev.ProductCreated(sku="S", name="Mug", category="k", price=ev.Money(amount=5, currency="EUR"), stock=1)
    )
    saved = await side.repository.create(product, CommandContext(MERCHANT, uuid.uuid4().hex, "corr"))
    assert saved.commit is not None
    return product.id, saved.commit.id


async def published_in_store(mongo_db, commit_id: ObjectId) -> bool:
    assert await mongo_db["commits"].find_one({"_id": commit_id}, {"_id": 1}) is not None
    return await mongo_db["outbox"].find_one({"_id": commit_id}) is None  # its outbox entry is gone


async def test_a_commit_whose_mark_is_pending_is_not_published_again(side, mongo_db, published_events):
    product_id, commit_id = await new_product(side)
    (event,) = await published_events.assert_published("ProductCreated", aggregate_id=product_id)

    # Acked by Kafka, mark pending: unpublished in the store, but in hand — the relay leaves it.
    assert not await published_in_store(mongo_db, commit_id)
    assert side.publisher.in_hand(commit_id)
    assert await side.relay.run_once() == 0

    await wait_until(lambda: published_in_store(mongo_db, commit_id), bool, timeout=10, what="the gathered mark")
    assert not side.publisher.in_hand(commit_id)
    assert await side.relay.run_once() == 0
    assert [e.event_id for e in published_events.matching(aggregate_id=product_id)] == [event.event_id]


async def test_a_failed_mark_leaves_the_commit_to_the_relay_which_publishes_it_again(
    side, mongo_db, published_events, monkeypatch
):
    store_down = True
    mark_published = side.outbox.mark_published

    async def flaky(commit_ids: Sequence[ObjectId]) -> None:
        if store_down:
            raise ConnectionError("the store is unreachable")
        await mark_published(commit_ids)

    monkeypatch.setattr(side.outbox, "mark_published", flaky)
    product_id, commit_id = await new_product(side)
    (event,) = await published_events.assert_published("ProductCreated", aggregate_id=product_id)
    await wait_until(lambda: _now(not side.publisher.in_hand(commit_id)), bool, timeout=10, what="the failed mark")
    assert not await published_in_store(mongo_db, commit_id)
    store_down = False

    assert await side.relay.run_once() == 1  # at-least-once: the same event, published again
    again = await published_events.assert_published("ProductCreated", count=2, aggregate_id=product_id)
    assert {e.event_id for e in again} == {event.event_id}
    await wait_until(lambda: published_in_store(mongo_db, commit_id), bool, timeout=10, what="the relay's mark")


async def _now(value: bool) -> bool:
    return value
