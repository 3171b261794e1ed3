"""The outbox collection (``command_api.adapters.outbox``) on the real store and broker:
an entry is written before its commit, so a crash between the two publishes nothing and
leaves an orphan the relay deletes after the grace; a refused member's entry goes at once;
commits of the old format (``published: false``, no entry) are published once, and only a
store the old code started on (its index) is looked at for them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from pymongo.errors import AutoReconnect, ExecutionTimeout

from shared.events import products as ev
from shared.settings import CommandApiSettings

from command_api.adapters import event_store as event_store_module
from command_api.adapters.outbox import LEGACY_INDEX
from command_api.application import placement
from command_api.application.commands import PlaceOrder
from command_api.application.handlers import Target
from command_api.application.ports import ConcurrencyConflict, DuplicateCommand
from command_api.application.repository import CommandContext
from command_api.bootstrap import CommandSide, bootstrap
from command_api.domain.product import Product, SkuTaken
from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.waiting import wait_until
from tests.contracts.records import commit, new_id, outcome

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
    await mongo_db["commits"].create_indexes([LEGACY_INDEX])  # as it did at its start, before writing
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
        await mongo_db["commits"].drop_index(LEGACY_INDEX.document["name"])  # the module's store is a new one again
    assert len(published_events.matching(aggregate_id=product.id)) == 1


async def test_a_store_the_old_code_never_started_on_has_no_legacy_index_and_is_not_scanned(side, mongo_db):
    """Every commit insert would maintain the old relay's index; a new store does without
    it, and adoption, finding no index, reads nothing (a flagged commit here could only
    have been written by hand: it is left alone)."""
    indexes = {i["name"] async for i in await mongo_db["commits"].list_indexes()}
    assert LEGACY_INDEX.document["name"] not in indexes
    assert {"aggregate_version_unique", "command_id_unique"} <= indexes
    product, _ = a_product()
    flagged = commit(product.id, 1)
    await mongo_db["commits"].insert_one({**flagged.to_document(), "published": False})

    await side.prepare()  # a restart
    assert await side.store.outbox.adopt_legacy() == 0
    assert await entries(mongo_db) == set()
    assert (await mongo_db["commits"].find_one({"_id": flagged.id}))["published"] is False
    assert LEGACY_INDEX.document["name"] not in {i["name"] async for i in await mongo_db["commits"].list_indexes()}


async def orphans(mongo_db) -> set:
    """Entries whose commit is not stored."""
    ids = await entries(mongo_db)
    stored = {c["_id"] async for c in mongo_db["commits"].find({"_id": {"$in": list(ids)}}, {"_id": 1})}
    return ids - stored


async def test_a_refused_sku_claim_leaves_no_entry(side, mongo_db):
    """The claim runs alongside the commit's entry; refused, the entry goes at once."""
    first, first_ctx = a_product()
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    await side.repository.create(first, first_ctx, requires=lambda: side.skus.claim(MERCHANT, sku, first.id))
    second, second_ctx = a_product()
    with pytest.raises(SkuTaken):
        await side.repository.create(second, second_ctx, requires=lambda: side.skus.claim(MERCHANT, sku, second.id))
    assert await mongo_db["commits"].find_one({"aggregate_id": second.id}) is None
    assert await orphans(mongo_db) == set()
    assert first.id in {e["aggregate_id"] async for e in mongo_db["outbox"].find()}  # not yet published


async def test_an_order_refused_after_its_entries_were_written_leaves_none(side, mongo_db):
    """A one-line order is one chain (the hold, then the order): here the order's command id
    is fenced already, so the hold is stored and the order refused — its entry goes at once,
    the hold is given back, and nothing but stored commits has an entry."""
    product, product_ctx = a_product()
    await side.repository.create(product, product_ctx)
    ctx = CommandContext(MERCHANT, uuid.uuid4().hex, "corr", "fp")
    await side.store.append(outcome(ctx.command_id))  # a relay's fence, say
    order = PlaceOrder.model_validate(
        {
            "items": [{"product_id": product.id, "quantity": 1}],
            "customer": {"email": "a@b.co"},
            "shipping_address": {"name": "A", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"},
        }
    )
    with pytest.raises(DuplicateCommand):
        await placement.place_order(order, Target(ctx), side.services)
    assert await orphans(mongo_db) == set()
    holds = [c async for c in mongo_db["commits"].find({"aggregate_id": product.id, "intent.kind": "hold"})]
    assert len(holds) == 1 and holds[0]["_id"] in await entries(mongo_db)  # kept until settled
    assert (await side.repository.load(Product, product.id, MERCHANT)).stock == 1  # given back
    assert await mongo_db["commits"].find_one({"aggregate_type": "order", "command_id": ctx.command_id}) is None


async def test_a_crash_between_a_chains_entries_and_its_commits_leaves_orphans_swept_after_the_grace(
    side, mongo_db, monkeypatch
):
    async def store_down(collection, documents):  # the entries were written; the chain's insert is lost
        raise AutoReconnect("connection closed")

    monkeypatch.setattr(event_store_module, "insert_in_order", store_down)
    hold, order = commit(new_id(), 1), commit(new_id(), 1)
    with pytest.raises(AutoReconnect):
        await side.store.append_chain([hold, order])
    monkeypatch.undo()
    assert await orphans(mongo_db) == {hold.id, order.id}
    await side.relay.run_once()  # within the grace: read, skipped, kept (the inserts could still land)
    assert await orphans(mongo_db) == {hold.id, order.id}
    await asyncio.sleep(ORPHAN_GRACE + 0.2)
    await side.relay.run_once()
    assert await orphans(mongo_db) == set()


async def test_a_required_write_too_slow_fails_its_member_alone(side, mongo_db, monkeypatch):
    """A batch waits for its members' required writes (SKU claims) for a bounded time only."""
    monkeypatch.setattr(event_store_module, "REQUIRED_WITHIN", 0.1)

    async def slow_claim() -> None:
        await asyncio.sleep(1)

    late, other = commit(new_id(), 1), commit(new_id(), 1)
    results = await asyncio.gather(
        side.store.append(late, requires=slow_claim), side.store.append(other), return_exceptions=True
    )
    assert isinstance(results[0], ExecutionTimeout) and results[1] is None
    assert await mongo_db["commits"].find_one({"_id": late.id}) is None
    assert await orphans(mongo_db) == set()
