"""A merchant rename fanned out to every products partition is read once, applied to each
partition's own products (``projectors.entrypoints.names.apply_fanned_out``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from shared.read_models import CATALOG_PRODUCTS, MERCHANT_PRODUCTS

from projectors.adapters.memory_store import MemoryReadModels
from projectors.entrypoints.names import apply_fanned_out, partition_for

PARTITIONS = 6


@dataclass
class FakeRecord:
    topic: str
    partition: int
    offset: int
    value: bytes | None
    timestamp: int = 0
    key: bytes | None = None


class CountingStore(MemoryReadModels):
    reads: int = 0

    async def older_ids(self, collection, equals, field, below):  # type: ignore[override]
        self.reads += 1
        return await super().older_ids(collection, equals, field, below)


def rename(partition: int, version: int, name: str = "New name", offset: int = 0) -> FakeRecord:
    body = {"merchant_id": "m1", "name": name, "version": version}
    return FakeRecord("projector.merchant-names", partition, offset, orjson.dumps(body))


def store_with_products(count: int = 60) -> CountingStore:
    store = CountingStore()
    for collection in (MERCHANT_PRODUCTS, CATALOG_PRODUCTS):
        docs = store.collection(collection)
        for i in range(count):
            docs[f"p{i}"] = {"_id": f"p{i}", "merchant_id": "m1", "merchant_name": "Old", "merchant_version": 1}
    return store


def names(store: CountingStore, collection: str) -> dict[str, tuple[str, int]]:
    return {i: (d["merchant_name"], d["merchant_version"]) for i, d in store.collection(collection).items()}


def test_one_rename_in_every_partition_reads_the_products_once_per_collection():
    store = store_with_products()
    asyncio.run(apply_fanned_out(store, [rename(p, 2) for p in range(PARTITIONS)], PARTITIONS))
    assert store.reads == 2  # not one read per partition and collection (12)
    for collection in (MERCHANT_PRODUCTS, CATALOG_PRODUCTS):
        assert set(names(store, collection).values()) == {("New name", 2)}


def test_a_product_takes_a_rename_only_from_its_own_partitions_record():
    store = store_with_products()
    carried = {0, 3}
    asyncio.run(apply_fanned_out(store, [rename(p, 2) for p in carried], PARTITIONS))
    for collection in (MERCHANT_PRODUCTS, CATALOG_PRODUCTS):
        for product_id, (name, version) in names(store, collection).items():
            mine = partition_for(product_id, PARTITIONS) in carried
            assert (name, version) == (("New name", 2) if mine else ("Old", 1)), product_id


def test_partitions_carrying_different_versions_each_get_their_own():
    store = store_with_products()
    records = [rename(0, 2, "Second"), rename(1, 3, "Third"), rename(1, 2, "Second", offset=1)]
    asyncio.run(apply_fanned_out(store, records, PARTITIONS))
    for product_id, (name, version) in names(store, MERCHANT_PRODUCTS).items():
        partition = partition_for(product_id, PARTITIONS)
        expected = {0: ("Second", 2), 1: ("Third", 3)}.get(partition, ("Old", 1))
        assert (name, version) == expected, product_id
