"""The repository against the real store, through group commit: two repositories stand
for two API processes, each with its own locks and cache of recent aggregates."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import products as ev

from command_api.adapters.event_store import EventStore
from command_api.application.repository import CommandContext, Repository
from command_api.domain.aggregate import VersionMismatch
from command_api.domain.product import InsufficientStock, Product

pytestmark = pytest.mark.integration


def ctx(merchant: str = "m-repo") -> CommandContext:
    return CommandContext(merchant, uuid.uuid4().hex, "c")


@pytest.fixture
async def store(mongo_db) -> EventStore:
    store = EventStore(mongo_db)
    await store.create_indexes()
    return store


async def new_product(repo: Repository, stock: int) -> str:
    product = Product(str(uuid.uuid4()), "m-repo")
    product.create(
        ev.ProductCreated(sku="R", name="Cup", category="c", price=ev.Money(amount=1, currency="EUR"), stock=stock)
    )
    await repo.create(product, ctx())
    return product.id


async def test_a_cached_aggregate_catches_up_with_another_process(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=5)
    await a.change(Product, pid, ctx(), lambda p: p.reserve("o1", 2))  # a caches version 2
    await b.change(Product, pid, ctx(), lambda p: p.reserve("o2", 3))  # b writes version 3
    with pytest.raises(InsufficientStock):
        await a.change(Product, pid, ctx(), lambda p: p.reserve("o3", 1))  # a must see b's write
    await b.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "found one"))
    saved = await a.change(Product, pid, ctx(), lambda p: p.reserve("o3", 1))
    assert saved.version == 5
    assert (await b.load(Product, pid, "m-repo")).stock == 0


async def test_concurrent_reservations_from_two_processes_never_oversell(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=7)

    async def reserve(repo: Repository, n: int):
        return await repo.change(Product, pid, ctx(), lambda p: p.reserve(f"order-{n}", 1))

    results = await asyncio.gather(*(reserve(a if n % 2 else b, n) for n in range(20)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 7
    assert all(isinstance(r, InsufficientStock) for r in results if isinstance(r, Exception))
    product = await a.load(Product, pid, "m-repo")
    assert product.stock == 0 and len(product.reservations) == 7


async def test_concurrent_commands_on_many_aggregates_share_group_commits(store):
    repo = Repository(store, None)
    products = [await new_product(repo, stock=1) for _ in range(20)]
    batches_before = store.group_commit.batches
    await asyncio.gather(*(repo.change(Product, p, ctx(), lambda p: p.adjust_stock(1, "in")) for p in products))
    assert store.group_commit.batches - batches_before < len(products)  # several commits per insert
    assert [(await repo.load(Product, p, "m-repo")).stock for p in products] == [2] * len(products)


async def test_if_match_refuses_a_stale_version(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=1)
    await b.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "x"))
    with pytest.raises(VersionMismatch) as raised:
        await a.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "y"), expected_version=1)
    assert raised.value.details["current_version"] == 2


async def test_another_merchants_aggregate_is_absent(store):
    a = Repository(store, None)
    pid = await new_product(a, stock=1)
    assert await a.load(Product, pid, "someone-else") is None
