"""``explain`` for every query the query API makes (``query_api.application.queries``), compared with
what is documented for the server's backend — detected, not assumed.

The backend: a server without ``ferretdbVersion`` in ``buildInfo`` is MongoDB. FerretDB v1
names no backend in ``buildInfo`` or ``serverStatus`` (a ``backend``/``handler`` field is
used if a later version adds one); its explain carries the backend's own query plan,
SQLite's ``EXPLAIN QUERY PLAN`` rows (``"id=.. detail=SCAN <table>"``) or PostgreSQL's JSON
plan (``"Node Type"``), which tells them apart. What each query reported is recorded as
the test's ``explain`` property (``--junitxml`` keeps it) and printed on failure.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.read_model_indexes import ensure_read_model_indexes
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.read_models import merchant_product_doc, order_doc, product_doc
from projectors.adapters.explain import index_names_in
from query_api.application.queries import QUERIES, ApiQuery

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()
PROBE = "_backend_probe"


async def detect_backend(db) -> str:
    info = await db.command("buildInfo")
    if "ferretdbVersion" not in info:
        return "mongodb"
    status = await db.command("serverStatus")
    for source in (info, status, info.get("ferretdb") or {}, status.get("ferretdb") or {}):
        for key in ("backend", "handler"):
            if isinstance(source.get(key), str):
                return f"ferretdb-{source[key].lower()}"
    await db[PROBE].insert_one({"_id": "probe"})
    try:
        plan = json.dumps((await db[PROBE].find({"_id": "probe"}).explain()).get("queryPlanner"), default=str)
    finally:
        await db.drop_collection(PROBE)
    if "Node Type" in plan:
        return "ferretdb-postgresql"
    if "detail=" in plan:
        return "ferretdb-sqlite"
    return f"ferretdb-unknown: {plan[:300]}"


@pytest.fixture
async def backend(mongo_db) -> str:
    return await detect_backend(mongo_db)


# Other shops' documents beside the sample merchant's five: a planner picks an index only
# when it is selective (PostgreSQL scans a table of five rows whatever its indexes).
OTHER_SHOPS, PER_SHOP = 200, 20


def _stats_doc(merchant_id: str, day: int) -> dict:
    return {
        "_id": f"{merchant_id}:2026-03-{day:02d}",
        "merchant_id": merchant_id,
        "day": f"2026-03-{day:02d}",
        "orders_placed": 1,
        "version": 1,
        "updated": datetime.now(UTC),
    }


def _category_doc(merchant_id: str, category: str) -> dict:
    return {
        "_id": f"{merchant_id}:{category}",
        "merchant_id": merchant_id,
        "category": category,
        "product_count": 2,
        "total_count": 3,
        "version": 5,
    }


_filled: set[str] = set()


@pytest.fixture
async def read_models(mongo_db):
    """Every view holds the sample merchant's documents among many other shops' (FerretDB
    explains an empty collection with no plan)."""
    if mongo_db.name not in _filled:  # once per database (a count costs a scan on FerretDB)
        _filled.add(mongo_db.name)
        await ensure_read_model_indexes(mongo_db)
        shops = ["m_sample"] + [f"m_other{n}" for n in range(OTHER_SHOPS)]
        rows = [(shop, i) for shop in shops for i in range(5 if shop == "m_sample" else PER_SHOP)]
        await mongo_db[CATALOG_PRODUCTS].insert_many([product_doc(m, i) for m, i in rows])
        await mongo_db[MERCHANT_PRODUCTS].insert_many([merchant_product_doc(m, i) for m, i in rows])
        await mongo_db[ORDERS].insert_many([order_doc(m, i) for m, i in rows])
        await mongo_db[CATEGORIES].insert_many([_category_doc(m, f"c{i}") for m, i in rows])
        await mongo_db[MERCHANT_STATS].insert_many([_stats_doc(m, 1 + i % 28) for m, i in rows if i < 28])
    return mongo_db


def postgresql_plan_nodes(plan: dict) -> list[tuple[str, str | None]]:
    """(node type, index name) of every node of PostgreSQL's JSON plan, depth first."""
    nodes, stack = [], [plan["queryPlanner"]["Plan"]]
    while stack:
        node = stack.pop()
        nodes.append((node.get("Node Type"), node.get("Index Name")))
        stack.extend(node.get("Plans") or [])
    return nodes


async def explain(db, query: ApiQuery) -> dict:
    cursor = db[query.collection].find(query.filter)
    if query.sort:
        cursor = cursor.sort(list(query.sort))
    return await cursor.explain()


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: q.name)
async def test_explain_matches_the_documented_plan(read_models, backend, query, record_property):
    plan = await explain(read_models, query)
    reported = {k: plan.get(k) for k in ("filterPushdown", "sortPushdown", "limitPushdown")}
    reported["plan"] = plan.get("queryPlanner")
    record_property("explain", json.dumps({"backend": backend, **reported}, default=str)[:2000])
    shown = f"{backend}: {json.dumps(reported, default=str)[:1500]}"

    if backend == "mongodb":
        used = index_names_in(plan["queryPlanner"]["winningPlan"])
        if query.index is None:
            assert "COLLSCAN" in json.dumps(plan["queryPlanner"]["winningPlan"]), shown
        else:
            assert query.index in used, shown
    elif backend == "ferretdb-sqlite":
        # Documented: no pushdown (the filter is never exactly {_id: value}); a table SCAN.
        assert plan["filterPushdown"] is False and plan["sortPushdown"] is False, shown
        assert any("SCAN" in row for row in plan["queryPlanner"]["Plan"]), shown
    elif backend == "ferretdb-postgresql":
        assert plan["filterPushdown"] is query.pg_pushdown and plan["sortPushdown"] is False, shown
        if query.pg_index is not None:
            # Our FerretDB build (infra/ferretdb/patches): _id equality uses the _id index,
            # other top-level equality the table's GIN index (its name ends in "_gin").
            used = [name or "" for kind, name in postgresql_plan_nodes(plan) if kind and "Index Scan" in kind]
            marker = {"gin": "_gin", "_id": "__id__"}[
                query.pg_index
            ]  # FerretDB names the _id index <table>__id__<hash>_idx
            assert any(marker in name for name in used), shown
    else:
        pytest.fail(f"no documented expectation for this backend; it reported {shown}")


async def test_every_intended_index_exists(read_models):
    for query in QUERIES:
        if query.index not in (None, "_id_"):
            assert query.index in await read_models[query.collection].index_information(), query.name
