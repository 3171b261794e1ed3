"""The outbox collection (``command_api.adapters.outbox``) on the real store and broker:
an entry is written before its commit, so a crash between the two publishes nothing and
leaves an orphan the relay deletes after the grace; a refused member's entry goes at once;
commits of the old format (``published: false``, no entry) are published once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo.errors import AutoReconnect

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.adapters import event_store as event_store_module
from command_api.application.ports import ConcurrencyConflict, DuplicateCommand
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.product import Product
from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.waiting import wait_until
from tests.contracts.records import commit, new_id

pytestmark = pytest.mark.integration
MERCHANT = "m1"  # the contract records' merchant
ORPHAN_GRACE = 1.0
# The relay publishes every unpublished commit of its database: this module's own.
server_env, settings, mongo_db = own_namespace_fixtures()


@pytest.fixture
async def side(mongo_db, settings) -> AsyncIterator[CommandSide]:
    command_settings = CommandApiSettings(
        **dict(settings), relay_grace_seconds=0, immediate_publish=False, outbox_orphan_grace_seconds=ORPHAN_GRACE
    )
    side = bootstrap(command_settings, db=mongo_db)
    await side.prepare()
    yield side
    await side.close()


async def entries(mongo_db) -> set:
    return {e["_id"] async for e in mongo_db["outbox"].find({}, {"_id": 1})}


async def until_marked(mongo_db) -> None:
    """The publisher's gathered mark (within ``MARK_DELAY``) deletes the published entries."""
    await wait_until(lambda: entries(mongo_db), lambda left: left == set(), timeout=10, what="the gathered mark")


def a_product() -> tuple[Product, CommandContext]:
    product = Product(str(uuid.uuid4()), MERCHANT)
    product.create(
        ev.ProductCreated(sku="S", name="Mug", category="k", price=ev.Money(amount=5, currency="EUR"), stock=1)
    )
    return product, CommandContext(MERCHANT, uuid.uuid4().hex, "corr")


async def test_a_crash_between_the_entry_and_the_commit_publishes_nothing_and_the_orphan_goes_after_the_grace(
    side, mongo_db, published_events, monkeypatch
):
    async def store_down(collection, documents):  # the entries were written; the commits' write is lost
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(event_store_module, "insert_each", store_down)
    product, ctx = a_product()
    with pytest.raises(AutoReconnect):
        await side.repository.create(product, ctx)
    monkeypatch.undo()
    (orphan,) = await entries(mongo_db)
    assert await mongo_db["commits"].find_one({"_id": orphan}) is None

    assert await side.relay.run_once() == 0  # within the grace: read, skipped, kept (its insert could still land)
    assert await entries(mongo_db) == {orphan}
    await asyncio.sleep(ORPHAN_GRACE + 0.2)
    # A later command (its publication) nudges the relay: its pass publishes that one and deletes the orphan.
    other, other_ctx = a_product()
    await side.repository.create(other, other_ctx)
    assert await side.relay.run_once() == 1
    await until_marked(mongo_db)
    await published_events.assert_published("ProductCreated", aggregate_id=other.id)
    assert published_events.matching(aggregate_id=product.id) == []


async def test_a_refused_members_entry_is_removed_with_the_batch(side, mongo_db):
    aggregate, taken = new_id(), uuid.uuid4().hex
    first = commit(aggregate, 1, command_id=taken)
    assert await side.store.append_batch([first]) == [None]
    winner, conflicting, duplicate = commit(new_id(), 1), commit(aggregate, 1), commit(new_id(), 1, command_id=taken)
    results = await side.store.append_batch([winner, conflicting, duplicate])
    assert results[0] is None
    assert isinstance(results[1], ConcurrencyConflict)
    assert isinstance(results[2], DuplicateCommand)
    assert await entries(mongo_db) == {first.id, winner.id}  # the refused ones' entries were deleted at once
    await side.store.mark_published([first.id, winner.id])
    assert await entries(mongo_db) == set()


async def test_commits_of_the_old_format_are_adopted_at_start_and_published_once(
    side, mongo_db, settings, published_events
):
    product, _ = a_product()
    old = commit(product.id, 1)
    legacy = {**old.to_document(), "published": False}  # what the code before the outbox stored
    await mongo_db["commits"].insert_one(legacy)
    assert await entries(mongo_db) == set()

    restarted = bootstrap(CommandApiSettings(**dict(settings), relay_grace_seconds=0), db=mongo_db)
    await restarted.prepare()  # the start-up step: an entry, then the flag removed
    assert await entries(mongo_db) == {old.id}
    assert "published" not in await mongo_db["commits"].find_one({"_id": old.id})
    assert await restarted.store.outbox.adopt_legacy() == 0  # once: nothing left of the old format
    await restarted.resources.start()
    try:
        assert await restarted.relay.run_once() == 1
        await published_events.assert_published("ProductStockAdjusted", aggregate_id=product.id)
        await until_marked(mongo_db)
        assert await restarted.relay.run_once() == 0
        await restarted.prepare()  # a second start adopts nothing
        assert await entries(mongo_db) == set()
    finally:
        await restarted.close()
    assert len(published_events.matching(aggregate_id=product.id)) == 1
