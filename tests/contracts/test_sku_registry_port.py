"""SkuRegistryPort: one product per SKU and merchant, on every adapter."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from command_api.domain.product import SkuTaken
from tests.contracts.records import commit


async def test_a_sku_is_held_by_one_product(backend):
    sku = uuid.uuid4().hex[:8]
    await backend.store.append(commit("p-holder-" + sku, 1))  # the holder got committed: not an orphan
    await backend.skus.claim("m1", sku, "p-holder-" + sku)
    await backend.skus.claim("m1", sku, "p-holder-" + sku)  # a retry of the same product's command
    with pytest.raises(SkuTaken):
        await backend.skus.claim("m1", sku, "p-other")
    await backend.skus.claim("m2", sku, "p-other")  # another merchant's catalogue


async def test_concurrent_claims_of_one_sku_let_exactly_one_product_in(backend):
    sku = uuid.uuid4().hex[:8]
    products = [f"p-{sku}-{i}" for i in range(6)]
    for p in products:
        await backend.store.append(commit(p, 1))
    results = await asyncio.gather(*(backend.skus.claim("m1", sku, p) for p in products), return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert all(isinstance(r, SkuTaken) for r in results if r is not None)


async def test_an_orphaned_claim_is_taken_over(backend):
    sku = uuid.uuid4().hex[:8]
    await backend.skus.claim("m1", sku, "p-never-committed")  # its process died before the commit
    await backend.skus.claim("m1", sku, "p-next")  # stale_after=0 in these fixtures
    await backend.store.append(commit("p-next", 1))
    with pytest.raises(SkuTaken):  # p-next was committed: its claim is no orphan
        await backend.skus.claim("m1", sku, "p-third")
