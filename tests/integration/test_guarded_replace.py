"""A bulk of guarded replaces answers as MongoDB does, on the real server (issue 15).

The projectors write states and views as ``ReplaceOne({_id, version: {$lt: n}}, <document
at version n>, upsert=True)``: "replace by a newer version of itself, or insert it"
(``projectors.adapters.bulk.guarded_replace``). Our FerretDB build writes an unordered bulk
made only of those as one ``INSERT … ON CONFLICT … DO UPDATE … WHERE`` per chunk
(``infra/ferretdb/patches/pg-guarded-replace-one-statement.patch``); what that statement
does not write runs FerretDB's usual path, alone. These tests hold the answers to
MongoDB's: they pass against MongoDB and fail wherever the build's answer or the stored
documents differ.

- One bulk mixing every case: an older stored version (replaced), an equal or newer one
  (E11000 at its index: the upsert hits the unique ``_id``), none stored (upserted), a
  stored ``version`` that is a string or missing (no match: E11000), an older version
  stored as a double (numbers compare by value: replaced); the counts, the write errors'
  indexes and every stored document.
- Another unique index refusing one document: E11000 at its index, the others written.
- One ``replace_one``: stale is ``DuplicateKeyError``; a replacement without ``_id``
  keeps the filter's; an upserted document has ``_id`` first.
- Concurrent bulks racing over the same ``_id``s with shuffled versions: every document
  ends at the highest version sent, never a lower one (the guard is atomic per document).
"""

from __future__ import annotations

import asyncio
import random

import pytest
from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from merchant_testkit.plugin import own_namespace_fixtures

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()

DUPLICATE_KEY = 11000


def guarded(doc_id: str, version: int, **fields: object) -> ReplaceOne:
    return ReplaceOne({"_id": doc_id, "version": {"$lt": version}}, {"_id": doc_id, "version": version, **fields}, True)


async def fresh(mongo_db, name: str, docs: list[dict]):
    collection = mongo_db[name]
    await collection.drop()
    if docs:
        await collection.insert_many(docs)
    return collection


async def test_a_mixed_bulk_answers_as_mongodb(mongo_db):
    collection = await fresh(
        mongo_db,
        "guarded_mixed",
        [
            {"_id": "older", "version": 1, "x": "old"},
            {"_id": "equal", "version": 4, "x": "old"},
            {"_id": "newer", "version": 9, "x": "old"},
            {"_id": "text", "version": "7", "x": "old"},
            {"_id": "missing", "x": "old"},
            {"_id": "double", "version": 2.5, "x": "old"},
        ],
    )
    ops = [
        guarded("older", 4, x="new"),  # 0: replaced
        guarded("equal", 4, x="new"),  # 1: E11000
        guarded("newer", 4, x="new"),  # 2: E11000
        guarded("absent", 4, x="new"),  # 3: upserted
        guarded("text", 4, x="new"),  # 4: a string is not $lt a number: E11000
        guarded("missing", 4, x="new"),  # 5: no version, no match: E11000
        guarded("double", 4, x="new"),  # 6: 2.5 < 4: replaced
    ]
    with pytest.raises(BulkWriteError) as raised:
        await collection.bulk_write(ops, ordered=False)
    result = raised.value.details
    assert sorted((e["index"], e["code"]) for e in result["writeErrors"]) == [(i, DUPLICATE_KEY) for i in (1, 2, 4, 5)]
    assert (result["nMatched"], result["nModified"], result["nUpserted"]) == (2, 2, 1)
    assert [(u["index"], u["_id"]) for u in result["upserted"]] == [(3, "absent")]
    stored = {d["_id"]: (d.get("version"), d["x"]) async for d in collection.find()}
    assert stored == {
        "older": (4, "new"),
        "equal": (4, "old"),
        "newer": (9, "old"),
        "absent": (4, "new"),
        "text": ("7", "old"),
        "missing": (None, "old"),
        "double": (4, "new"),
    }


async def test_another_unique_index_refuses_only_its_document(mongo_db):
    collection = await fresh(mongo_db, "guarded_unique", [{"_id": "a", "version": 1, "sku": "A"}])
    await collection.create_index("sku", unique=True, name="guarded_unique_sku")
    ops = [guarded("a", 2, sku="A"), guarded("b", 1, sku="A"), guarded("c", 1, sku="C")]
    with pytest.raises(BulkWriteError) as raised:
        await collection.bulk_write(ops, ordered=False)
    assert [(e["index"], e["code"]) for e in raised.value.details["writeErrors"]] == [(1, DUPLICATE_KEY)]
    stored = {d["_id"]: d["version"] async for d in collection.find()}
    assert stored == {"a": 2, "c": 1}


async def test_one_replace(mongo_db):
    collection = await fresh(mongo_db, "guarded_one", [{"_id": "a", "version": 5}])
    with pytest.raises(DuplicateKeyError):
        await collection.replace_one({"_id": "a", "version": {"$lt": 3}}, {"_id": "a", "version": 3}, upsert=True)
    replaced = await collection.replace_one({"_id": "a", "version": {"$lt": 7}}, {"version": 7, "y": 1}, upsert=True)
    assert (replaced.matched_count, replaced.modified_count, replaced.upserted_id) == (1, 1, None)
    assert await collection.find_one({"_id": "a"}) == {"_id": "a", "version": 7, "y": 1}
    await collection.replace_one({"_id": "z", "version": {"$lt": 1}}, {"version": 1, "_id": "z"}, upsert=True)
    assert list((await collection.find_one({"_id": "z"})).keys()) == ["_id", "version"]


async def test_racing_bulks_never_move_a_version_backwards(mongo_db):
    collection = await fresh(mongo_db, "guarded_race", [])
    ids = [f"p{i:03d}" for i in range(60)]
    rng = random.Random(15)
    writers = []
    for _ in range(8):
        versions = {i: rng.randint(1, 50) for i in ids}
        order = list(ids)
        rng.shuffle(order)
        writers.append([guarded(i, versions[i], by=len(writers)) for i in order])
    highest = {i: max(op._doc["version"] for ops in writers for op in ops if op._doc["_id"] == i) for i in ids}

    async def write(ops: list[ReplaceOne]) -> None:
        try:
            await collection.bulk_write(ops, ordered=False)
        except BulkWriteError as exc:
            assert {e["code"] for e in exc.details["writeErrors"]} == {DUPLICATE_KEY}

    await asyncio.gather(*(write(ops) for ops in writers))
    assert {d["_id"]: d["version"] async for d in collection.find()} == highest
