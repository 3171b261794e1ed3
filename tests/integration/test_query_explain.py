"""``explain`` for every query the query API makes (``query_api.queries``), compared with
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

from merchant_testkit.plugin import own_namespace_fixtures

from projectors.explain import index_names_in
from query_api.queries import QUERIES, ApiQuery
from shared.read_model_indexes import ensure_read_model_indexes
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS
from tests.support.read_models import merchant_product_doc, order_doc, product_doc

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


@pytest.fixture
async def read_models(mongo_db):
    """A few documents in every view (FerretDB explains an empty collection with no plan)."""
    if await mongo_db[CATALOG_PRODUCTS].estimated_document_count() == 0:
        await ensure_read_model_indexes(mongo_db)
        await mongo_db[CATALOG_PRODUCTS].insert_many([product_doc("m_sample", i) for i in range(5)])
        await mongo_db[MERCHANT_PRODUCTS].insert_many([merchant_product_doc("m_sample", i) for i in range(5)])
        await mongo_db[ORDERS].insert_many([order_doc("m_sample", i) for i in range(5)])
        await mongo_db[CATEGORIES].insert_one({"_id": "m_sample:shoes", "merchant_id": "m_sample",
                                               "category": "shoes", "product_count": 2, "total_count": 3, "version": 5})
        await mongo_db[MERCHANT_STATS].insert_one({"_id": "m_sample:2026-03-02", "merchant_id": "m_sample",
                                                   "day": "2026-03-02", "orders_placed": 1, "version": 1,
                                                   "updated": datetime.now(UTC)})
    return mongo_db


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
    else:
        pytest.fail(f"no documented expectation for this backend; it reported {shown}")


async def test_every_intended_index_exists(read_models):
    for query in QUERIES:
        if query.index not in (None, "_id_"):
            assert query.index in await read_models[query.collection].index_information(), query.name
