"""What the project needs from its MongoDB-compatible server beyond the usual: on FerretDB,
our patched build (it names its backend in ``buildInfo``) and an ``update`` command with
more matched statements than FerretDB's connection pool (50 on PostgreSQL, 100 per
database on SQLite) — what a projector's ``bulk_write`` sends — which unpatched FerretDB
v1.24 answers never, hanging the whole server (see docs/operations.md)."""

from __future__ import annotations

import asyncio

import pytest
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
        "`merchant infra down --only ferretdb && merchant infra up`", info)


async def test_a_bulk_write_matching_more_documents_than_the_pool_completes(mongo_db):
    info = await mongo_db.client.admin.command("buildInfo")
    if "ferretdbVersion" in info and "backend" not in info.get("buildEnvironment", {}):
        pytest.fail("unpatched FerretDB: this bulk write would hang the whole server; "
                    "restart it with `merchant infra down --only ferretdb && merchant infra up`")
    coll = mongo_db["bulk_guarded_replace"]
    await coll.insert_many([{"_id": f"p{i}", "version": 1} for i in range(STATEMENTS)])
    ops = [ReplaceOne({"_id": f"p{i}", "version": {"$lt": 2}}, {"_id": f"p{i}", "version": 2}, upsert=True)
           for i in range(STATEMENTS)]
    result = await asyncio.wait_for(coll.bulk_write(ops, ordered=False), timeout=120)
    assert result.matched_count == STATEMENTS
    assert await coll.count_documents({"version": 2}) == STATEMENTS
    assert (await mongo_db.client.admin.command("ping"))["ok"] == 1  # the server still answers
