"""FerretDB on PostgreSQL: a lookup that was an index lookup stays one as its table grows.

pgx (FerretDB's driver) prepares every statement; after five runs PostgreSQL may switch a
prepared statement to a *generic* plan, costed once. Costed on a table still small — what
a projector's catch-up starts from — that plan is a sequential scan, and it stays while
the table grows, until PostgreSQL next analyses it: the derived views' counter lookups of
a catch-up read every counter each (docs/benchmarks.md, "Projectors"). Infra starts
FerretDB with ``plan_cache_mode=force_custom_plan`` for its sessions
(``infra.servers.postgresql.SESSION``). This test replays that history on the real server
and reads PostgreSQL's own counters of the table (``pg_stat_user_tables``, through
``psql``): after the growth, the repeated lookups must not read the table row by row.

On MongoDB or FerretDB-SQLite there is no PostgreSQL to ask: nothing to check.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time

import pytest

from infra.servers import postgresql

pytestmark = pytest.mark.integration

EARLY_LOOKUPS = 12  # more than the five custom plans PostgreSQL tries before a generic one
GROWN_TO = 4000
LOOKUPS = 20
STATS_WAIT_SECONDS = 25.0  # a backend reports its table counters within ~10 s of going idle


def _psql(sql: str) -> str:
    psql = shutil.which("psql")
    assert psql, "psql (Debian's postgresql-client, installed with PostgreSQL) is needed to read its statistics"
    host, port = postgresql.address.rsplit(":", 1)
    result = subprocess.run(
        [psql, "-h", host, "-p", port, "-U", postgresql.SUPERUSER, "-d", postgresql.DATABASE, "-Atc", sql],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, f"psql on {postgresql.address}: {result.stderr}"
    return result.stdout.strip()


def _table_stats(schema: str, collection: str) -> tuple[int, int, int]:
    """(seq_scan, seq_tup_read, idx_scan) of the collection's table."""
    row = _psql(
        "select s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) "
        f'from "{schema}"._ferretdb_database_metadata m join pg_stat_user_tables s '
        f"on s.schemaname = '{schema}' and s.relname = m._jsonb->>'table' "
        f"where m._jsonb->>'_id' = '{collection}'"
    )
    assert row, f"no PostgreSQL table for {schema}.{collection} on {postgresql.address}"
    seq, rows, idx = (int(v) for v in row.split("|"))
    return seq, rows, idx


async def _is_ferretdb_on_postgresql(db) -> bool:
    info = await db.client.admin.command("buildInfo")
    return "ferretdbVersion" in info and info.get("buildEnvironment", {}).get("backend") == "postgresql"


async def test_a_lookup_by_field_stays_an_index_lookup_as_the_table_grows(mongo_db):
    if not await _is_ferretdb_on_postgresql(mongo_db):
        return  # no PostgreSQL behind this server
    coll = mongo_db["plan_growth"]
    await coll.create_index([("key", 1), ("source", 1)], name="plan_growth_key")
    await coll.insert_many([{"_id": f"early{i}", "key": f"early{i}", "source": "s"} for i in range(3)])
    for _ in range(EARLY_LOOKUPS):  # the plan PostgreSQL caches is costed on 3 rows
        await coll.find({"key": "early1"}).to_list()
    pad = "x" * 200
    await coll.insert_many(
        [{"_id": f"k{i}", "key": f"k{i}", "source": "s", "pad": pad} for i in range(GROWN_TO)], ordered=False
    )
    seq0, rows0, idx0 = _table_stats(mongo_db.name, coll.name)
    for i in range(LOOKUPS):
        found = await coll.find({"key": f"k{i * 7}"}).to_list()
        assert [d["_id"] for d in found] == [f"k{i * 7}"]
    deadline = time.monotonic() + STATS_WAIT_SECONDS
    while True:
        seq, rows, idx = _table_stats(mongo_db.name, coll.name)
        if (seq - seq0) + (idx - idx0) >= LOOKUPS or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.5)
    assert (seq - seq0) + (idx - idx0) >= LOOKUPS, "PostgreSQL did not report the lookups in time"
    per_lookup = (rows - rows0) / LOOKUPS
    assert per_lookup < GROWN_TO / 10, (
        f"each lookup read {per_lookup:,.0f} rows by sequential scan ({seq - seq0} scans, {idx - idx0} index "
        f"scans) on a {GROWN_TO:,}-row table: a generic plan costed on the empty table? FerretDB must run "
        "with plan_cache_mode=force_custom_plan (infra.servers.postgresql.SESSION; restart it: "
        "`merchant infra down --only ferretdb && merchant infra up`)"
    )
