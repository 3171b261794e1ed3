"""The repository against the real store: two repositories stand for two API processes,
each with its own in-process locks and cache of recent aggregates."""

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
async def two_processes(mongo_db):
    store = EventStore(mongo_db)
    await store.create_indexes()
    return Repository(store, None), Repository(store, None)


async def new_product(repo: Repository, stock: int) -> str:
    product = Product(str(uuid.uuid4()), "m-repo")
    product.create(
        ev.ProductCreated(sku="R", name="Cup", category="c", price=ev.Money(amount=1, currency="EUR"), stock=stock)
    )
    await repo.save(product, ctx())
    return product.id


async def test_a_cached_aggregate_catches_up_with_another_process(two_processes):
    a, b = two_processes
    pid = await new_product(a, stock=5)
    await a.change(Product, pid, ctx(), lambda p: p.reserve("o1", 2))  # a caches version 2
    await b.change(Product, pid, ctx(), lambda p: p.reserve("o2", 3))  # b writes version 3
    with pytest.raises(InsufficientStock):
        await a.change(Product, pid, ctx(), lambda p: p.reserve("o3", 1))  # a must see b's write
    await b.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "found one"))
    saved = await a.change(Product, pid, ctx(), lambda p: p.reserve("o3", 1))
    assert saved.version == 5
    assert (await b.load(Product, pid, "m-repo")).stock == 0


async def test_concurrent_reservations_from_two_processes_never_oversell(two_processes):
    a, b = two_processes
    pid = await new_product(a, stock=7)

    async def reserve(repo: Repository, n: int):
        return await repo.change(Product, pid, ctx(), lambda p: p.reserve(f"order-{n}", 1))

    results = await asyncio.gather(*(reserve(a if n % 2 else b, n) for n in range(20)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 7
    assert all(isinstance(r, InsufficientStock) for r in results if isinstance(r, Exception))
    product = await a.load(Product, pid, "m-repo")
    assert product.stock == 0 and len(product.reservations) == 7


async def test_if_match_refuses_a_stale_version(two_processes):
    a, b = two_processes
    pid = await new_product(a, stock=1)
    await b.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "x"))
    with pytest.raises(VersionMismatch) as raised:
        await a.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "y"), expected_version=1)
    assert raised.value.details["current_version"] == 2


async def test_another_merchants_aggregate_is_absent(two_processes):
    a, _ = two_processes
    pid = await new_product(a, stock=1)
    assert await a.load(Product, pid, "someone-else") is None


async def test_a_head_left_behind_by_a_dead_writer_costs_a_retry_not_a_lost_write(two_processes, mongo_db):
    a, b = two_processes
    pid = await new_product(a, stock=3)
    await a.change(Product, pid, ctx(), lambda p: p.reserve("o1", 1))  # a caches version 2
    # Another process appends version 3 and dies before moving the aggregate's head.
    other = await b.load(Product, pid, "m-repo")
    other.reserve("o2", 2)
    await EventStore(mongo_db).commits.insert_one(_commit_document(other))
    assert await EventStore(mongo_db).head(pid) == 2

    with pytest.raises(InsufficientStock):  # a's append at 3 conflicts; it reloads and sees stock 0
        await a.change(Product, pid, ctx(), lambda p: p.reserve("o3", 1))
    assert (await a.load(Product, pid, "m-repo")).stock == 0


def _commit_document(aggregate: Product) -> dict:
    from shared.events import EventEnvelope

    from command_api.application.ports import Commit

    ((event_type, data),) = aggregate.pending
    envelope = EventEnvelope(
        type=event_type,
        aggregate_type="product",
        aggregate_id=aggregate.id,
        aggregate_version=aggregate.version,
        merchant_id="m-repo",
        correlation_id="c",
        data=data.model_dump(mode="json"),
    )
    return Commit("product", aggregate.id, "m-repo", uuid.uuid4().hex, [envelope]).to_document()
