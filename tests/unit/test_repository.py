"""The repository on the in-memory event store: two repositories over one store stand
for two API processes, each with its own locks and cache of recent aggregates."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.events import products as ev

from command_api.adapters.memory.event_store import InMemoryEventStore
from command_api.application.ports import DuplicateCommand
from command_api.application.repository import CommandContext, Repository
from command_api.domain.aggregate import NotFound, VersionMismatch
from command_api.domain.product import InsufficientStock, Product


class CountingStore(InMemoryEventStore):
    """Counts reads: the repository promises no read before an append it can trust."""

    def __init__(self) -> None:
        super().__init__()
        self.loads = 0

    async def load(self, aggregate_id, after_version=0):
        self.loads += 1
        return await super().load(aggregate_id, after_version)


def ctx(command_id: str | None = None, fingerprint: str | None = None) -> CommandContext:
    return CommandContext("m-repo", command_id or uuid.uuid4().hex, "c", fingerprint)


@pytest.fixture
def store() -> CountingStore:
    return CountingStore()


async def new_product(repo: Repository, stock: int) -> str:
    product = Product(str(uuid.uuid4()), "m-repo")
    product.create(
        ev.ProductCreated(sku="R", name="Cup", category="c", price=ev.Money(amount=1, currency="EUR"), stock=stock)
    )
    await repo.create(product, ctx())
    return product.id


async def test_a_change_on_a_known_aggregate_reads_nothing(store):
    repo = Repository(store, None)
    pid = await new_product(repo, stock=5)
    for _ in range(3):
        await repo.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "in"))
    assert store.loads == 0  # decided on the cached state; the append is the check
    assert (await repo.load(Product, pid, "m-repo")).stock == 8


async def test_a_stale_cache_costs_a_retry_never_a_lost_write(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=5)
    await b.change(Product, pid, ctx(), lambda p: p.reserve("o1", 2))  # a's cache is now one version behind
    saved = await a.change(Product, pid, ctx(), lambda p: p.reserve("o2", 1))
    assert saved.version == 3
    assert (await b.load(Product, pid, "m-repo")).stock == 2


async def test_a_refusal_on_a_stale_cache_is_decided_again_on_the_store(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=1)
    await a.change(Product, pid, ctx(), lambda p: p.reserve("o1", 1))  # a caches stock 0
    await b.change(Product, pid, ctx(), lambda p: p.adjust_stock(5, "restock"))
    saved = await a.change(Product, pid, ctx(), lambda p: p.reserve("o2", 3))  # not refused on the stale 0
    assert saved.version == 4
    with pytest.raises(InsufficientStock):
        await a.change(Product, pid, ctx(), lambda p: p.reserve("o3", 9))


async def test_a_no_op_on_a_stale_cache_is_decided_again_on_the_store(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=1)
    await a.change(Product, pid, ctx(), Product.publish)  # a: published (nothing appended)
    await b.change(Product, pid, ctx(), Product.unpublish)
    saved = await a.change(Product, pid, ctx(), Product.publish)  # must publish again, not answer "no change"
    assert saved.commit is not None and saved.version == 3


async def test_if_match_is_checked_against_the_store(store):
    a, b = Repository(store, None), Repository(store, None)
    pid = await new_product(a, stock=1)
    await a.load(Product, pid, "m-repo")
    await b.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "x"))
    with pytest.raises(VersionMismatch) as raised:
        await a.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "y"), expected_version=1)
    assert raised.value.details["current_version"] == 2
    saved = await a.change(Product, pid, ctx(), lambda p: p.adjust_stock(1, "y"), expected_version=2)
    assert saved.version == 3


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


async def test_another_merchants_aggregate_is_absent(store):
    repo = Repository(store, None)
    pid = await new_product(repo, stock=1)
    assert await repo.load(Product, pid, "someone-else") is None
    with pytest.raises(NotFound):
        await repo.change(Product, pid, CommandContext("someone-else", "x", "c"), Product.publish)


async def test_a_command_id_acts_once_and_its_record_is_raised_on_a_retry(store):
    repo = Repository(store, None)
    pid = await new_product(repo, stock=1)
    first = await repo.change(Product, pid, ctx("cmd-1", "fp"), lambda p: p.adjust_stock(1, "x"))
    assert first.commit is not None and first.commit.fingerprint == "fp"
    with pytest.raises(DuplicateCommand) as raised:
        await Repository(store, None).change(Product, pid, ctx("cmd-1", "fp"), lambda p: p.adjust_stock(1, "x"))
    assert raised.value.earlier.id == first.commit.id
    assert (await repo.load(Product, pid, "m-repo")).stock == 2
