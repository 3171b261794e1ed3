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
import random
from datetime import UTC, datetime

import pytest

from shared.read_model_indexes import INDEXES, ensure_read_model_indexes
from shared.read_models import CATALOG_PRODUCTS, CATEGORIES, MERCHANT_PRODUCTS, MERCHANT_STATS, ORDERS

from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.read_models import merchant_product_doc, order_doc, product_doc
from projectors.adapters.explain import index_names_in
from query_api.application.pagination import Sort
from query_api.application.queries import QUERIES, ApiQuery
from tests.support.index_use import serves_sort

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


# --- pages: the same queries with their limit, first page and cursor page -----------------
# On a merchant big enough that reading its documents and sorting them is not what a
# planner would pick (20 documents of 5,000), in collections of their own.
PAGES_SUFFIX, BIG_MERCHANT_DOCS, PAGE_LIMIT = "__pages", 5_000, 20
PAGE_QUERIES = [q for q in QUERIES if q.pg_page is not None]
STATUSES = ("placed", "confirmed", "paid", "shipped", "delivered", "cancelled", "refunded")


def _page_docs(collection: str, merchant_id: str, i: int, rng: random.Random) -> dict:
    """Documents with the sample values of ``QUERIES`` among others (names starting "boo",
    customer a@example.com, product p_sample...), so every query has pages."""
    name = rng.choice(("Boots", "Bookends", "Cap", "Tee", "Scarf", "Sandals"))
    if collection == CATALOG_PRODUCTS:
        return product_doc(merchant_id, i, rng, name=name, name_lower=name.lower())
    if collection == MERCHANT_PRODUCTS:
        status = rng.choice(("draft", "published", "archived"))
        return merchant_product_doc(
            merchant_id,
            i,
            name_lower=name.lower(),
            stock=rng.randrange(50),
            units_sold=rng.randrange(100),
            status=status,
        )
    status = rng.choice(STATUSES)
    return order_doc(
        merchant_id,
        i,
        status=status,
        open=status in STATUSES[:3],
        total=rng.randrange(1_000, 100_000),
        customer_email=rng.choice(["a@example.com"] + [f"c{n}@example.com" for n in range(50)]),
        tracking_number=f"TRK-{i}",
        lines=[{"product_id": rng.choice(["p_sample"] + [f"p-{n}" for n in range(30)]), "quantity": 1}],
    )


@pytest.fixture(scope="module")
async def page_collections(mongo_db) -> dict[str, str]:
    """logical -> physical name of the page collections: the sample merchant's 5,000
    documents among 2,000 of 100 other shops, with the read-model indexes and fresh
    statistics (``collStats`` makes FerretDB ANALYZE, as autovacuum would after a load)."""
    names = {c: c + PAGES_SUFFIX for c in (CATALOG_PRODUCTS, MERCHANT_PRODUCTS, ORDERS)}
    await ensure_read_model_indexes(mongo_db, names)
    rng = random.Random(16)
    owners = ["m_sample"] * BIG_MERCHANT_DOCS + [f"m_other{n}" for n in range(100) for _ in range(20)]
    for logical, physical in names.items():
        docs = [_page_docs(logical, m, i, rng) for i, m in enumerate(owners)]
        for start in range(0, len(docs), 1_000):
            await mongo_db[physical].insert_many(docs[start : start + 1_000])
        if "ferretdbVersion" in await mongo_db.command("buildInfo"):
            await mongo_db.command("collStats", physical)
    return names


def page_scans(plan: dict) -> list[tuple[tuple, dict]]:
    """(ancestors' node types, node) of the scans feeding the pushed-down page (the CTE
    "page" of our FerretDB build's statement); empty when the page was not pushed down."""

    def walk(node: dict, path: tuple = ()) -> list[tuple[tuple, dict]]:
        here = (*path, node.get("Node Type"))
        return [(here, node)] + [found for child in node.get("Plans") or [] for found in walk(child, here)]

    for _, node in walk(plan["queryPlanner"]["Plan"]):
        if node.get("Subplan Name") == "CTE page":
            return [
                (p, n) for p, n in walk(node) if "Scan" in (n.get("Node Type") or "") and n["Node Type"] != "CTE Scan"
            ]
    return []


async def page_filters(db, physical: str, query: ApiQuery) -> dict[str, dict]:
    """The query's first page and a cursor page (after its 30th document), as load_page sends them."""
    field, direction = query.sort[0]
    pages = {"first": query.filter}
    after = await db[physical].find(query.filter).sort(list(query.sort)).skip(30).limit(1).to_list()
    if after:
        pages["cursor"] = {"$and": [query.filter, Sort(field, direction).after(after[0].get(field), after[0]["_id"])]}
    return pages


def fnv32a(text: str) -> str:
    """FerretDB names a PostgreSQL index ``<table>_<name>_<fnv32a of the name>_idx``."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return f"_{value:08x}_idx"


@pytest.mark.parametrize("query", PAGE_QUERIES, ids=lambda q: q.name)
async def test_each_page_is_read_through_an_index(mongo_db, page_collections, backend, query, record_property):
    physical = page_collections[query.collection]
    pages = await page_filters(mongo_db, physical, query)
    for page, filters in pages.items():
        plan = await mongo_db[physical].find(filters).sort(list(query.sort)).limit(PAGE_LIMIT + 1).explain()
        reported = {k: plan.get(k) for k in ("filterPushdown", "sortPushdown", "limitPushdown")}
        scans = page_scans(plan) if backend == "ferretdb-postgresql" else []
        seen = [{"path": path[-3:], "index": node.get("Index Name")} for path, node in scans]
        record_property(f"{page} page", json.dumps({"backend": backend, **reported, "scans": seen}, default=str))
        shown = f"{backend}, {page} page: {json.dumps(reported)} {json.dumps(seen)[:1200]}"

        if backend == "mongodb":
            assert query.index in index_names_in(plan["queryPlanner"]["winningPlan"]), shown
        elif backend == "ferretdb-sqlite":
            assert plan["sortPushdown"] is False and plan["limitPushdown"] is False, shown
        elif backend == "ferretdb-postgresql":
            assert_postgresql_page(query, reported, scans, shown)
        else:
            pytest.fail(f"no documented expectation for this backend; it reported {shown}")
    assert query.pg_page in ("lookup", "fallback") or "cursor" in pages, "the page fixture must give a cursor page"


def assert_postgresql_page(query: ApiQuery, reported: dict, scans: list[tuple[tuple, dict]], shown: str) -> None:
    """Our build (infra/ferretdb/patches/pg-sort-limit-pushdown.patch): the whole page in
    PostgreSQL, read in the sort's order through one of our btree indexes and stopped at
    the limit; an exact lookup sorts its few matches; a dotted path is not pushed down."""
    if query.pg_page == "fallback":
        assert reported["sortPushdown"] is False and not scans, shown
        return
    assert reported["sortPushdown"] is True and reported["limitPushdown"] is True, shown
    assert len(scans) == 1, shown
    path, scan = scans[0]
    assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), shown
    assert not scan["Index Name"].endswith("_gin"), shown  # one of our btree indexes
    assert "Limit" in path, shown
    if query.pg_page == "ordered":
        assert "Sort" not in path, shown  # read in order: no sort of everything the filter matched
        [spec] = [
            s for s in INDEXES if s.collection == query.collection and scan["Index Name"].endswith(fnv32a(s.name))
        ]
        # Which index is PostgreSQL's choice by cost (the declared one, or another that pins
        # less and checks the rest on the way); it must give the sort's order.
        assert serves_sort(spec, query.filter, query.sort), shown
