"""What the project needs from its MongoDB-compatible server beyond the usual: on FerretDB,
our patched build (it names its backend in ``buildInfo``) and an ``update`` command with
more matched statements than FerretDB's connection pool (50 on PostgreSQL, 100 per
database on SQLite) — what a projector's ``bulk_write`` sends — which unpatched FerretDB
v1.24 answers never, hanging the whole server (see docs/operations.md)."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId
from pymongo import ReplaceOne

pytestmark = pytest.mark.integration

STATEMENTS = 150  # more than either backend's pool


async def test_ferretdb_is_our_build_and_names_its_backend(mongo_db):
    info = await mongo_db.client.admin.command("buildInfo")
    if "ferretdbVersion" not in info:
        return  # real MongoDB: nothing FerretDB-specific to check
    backend = info.get("buildEnvironment", {}).get("backend")
    assert backend in ("postgresql", "sqlite"), (
        "FerretDB without our patches (buildInfo names no backend): restart it with "
        "`merchant infra down --only ferretdb && merchant infra up`",
        info,
    )


async def test_a_bulk_write_matching_more_documents_than_the_pool_completes(mongo_db):
    info = await mongo_db.client.admin.command("buildInfo")
    if "ferretdbVersion" in info and "backend" not in info.get("buildEnvironment", {}):
        pytest.fail(
            "unpatched FerretDB: this bulk write would hang the whole server; "
            "restart it with `merchant infra down --only ferretdb && merchant infra up`"
        )
    coll = mongo_db["bulk_guarded_replace"]
    await coll.insert_many([{"_id": f"p{i}", "version": 1} for i in range(STATEMENTS)])
    ops = [
        ReplaceOne({"_id": f"p{i}", "version": {"$lt": 2}}, {"_id": f"p{i}", "version": 2}, upsert=True)
        for i in range(STATEMENTS)
    ]
    result = await asyncio.wait_for(coll.bulk_write(ops, ordered=False), timeout=120)
    assert result.matched_count == STATEMENTS
    assert await coll.count_documents({"version": 2}) == STATEMENTS
    assert (await mongo_db.client.admin.command("ping"))["ok"] == 1  # the server still answers


# Our FerretDB-on-PostgreSQL build pushes equality and $in down as JSON containment (see
# infra/ferretdb/patches): whatever the plan, the answers must be MongoDB's — a field
# holding the value or an array holding it, ObjectIds, numbers of either type, null and
# empty lists (not pushed down), lists longer than the pushdown bound.
async def test_equality_and_in_filters_answer_as_mongodb(mongo_db):
    oids = [ObjectId() for _ in range(20)]
    docs = [
        {"_id": f"d{i}", "m": f"m{i % 20}", "tags": [f"t{i % 7}", "x"], "n": i % 13, "b": i % 2 == 0}
        for i in range(1500)
    ]
    docs += [{"_id": o, "m": "m1", "n": 1.0} for o in oids] + [{"_id": "no-m"}, {"_id": "null-m", "m": None}]
    coll = mongo_db["pushdown_semantics"]
    await coll.insert_many(docs)
    many = [f"m{i}" for i in range(1500)]
    cases = [
        ({"m": "m3"}, lambda d: d.get("m") == "m3"),
        ({"tags": "t3"}, lambda d: "t3" in d.get("tags", [])),
        ({"n": 1}, lambda d: d.get("n") == 1),
        ({"b": True, "m": "m2"}, lambda d: d.get("b") is True and d.get("m") == "m2"),
        ({"_id": oids[3]}, lambda d: d["_id"] == oids[3]),
        ({"_id": {"$in": ["d1", "d5", "absent"]}}, lambda d: d["_id"] in ("d1", "d5")),
        ({"_id": {"$in": oids[:5] + ["d7"]}}, lambda d: d["_id"] in oids[:5] + ["d7"]),
        ({"_id": {"$in": ["d1", None]}}, lambda d: d["_id"] == "d1"),
        ({"m": {"$in": ["m1", "m3"]}}, lambda d: d.get("m") in ("m1", "m3")),
        ({"tags": {"$in": ["t3", "t4"]}}, lambda d: bool({"t3", "t4"} & set(d.get("tags", [])))),
        ({"n": {"$in": [1, 2.0]}, "m": {"$in": ["m1"]}}, lambda d: d.get("n") in (1, 2) and d.get("m") == "m1"),
        ({"m": {"$in": ["m1", None]}}, lambda d: d.get("m") in ("m1", None)),
        ({"m": {"$in": []}}, lambda d: False),
        ({"m": {"$in": many}}, lambda d: d.get("m") in set(many)),
    ]
    for filter_, matches in cases:
        got = sorted([str(d["_id"]) async for d in coll.find(filter_, {"_id": 1})])
        assert got == sorted(str(d["_id"]) for d in docs if matches(d)), filter_
