"""Keyset pages walked on the real server equal MongoDB's order, computed here (issue 16).

Our FerretDB build (``infra/ferretdb/patches/pg-sort-limit-pushdown.patch``) answers a
find with filter + sort + limit in PostgreSQL, through an index, when it can prove the
answer is MongoDB's. This module checks the answers, not the build: it passes against
real MongoDB and against any FerretDB, and fails wherever a page differs from the
reference.

- Property: for seeded random catalogues (ties; int32, int64 and double of equal value;
  missing fields and nulls; Unicode and case variants of names; fields of mixed types)
  and each catalogue sort, with and without the merchant and category filters, walking
  pages with keyset cursors returns exactly the documents the reference filter selects,
  in the reference implementation of MongoDB's sort order. Two cursor shapes: the plain
  one (right when a sort field holds one type class; what the query API sent before) and
  the typed one (``typed_after``, right across type classes and missing fields: what
  ``query_api.application.pagination.Sort.after`` sends since issue 16's phase 2).
- Fallback: a collection whose filter field holds an array, or whose sort field holds
  numbers beyond 2^53, makes the build answer the way it did before; still exact.
- Plans (FerretDB on PostgreSQL): each catalogue page query, first page and cursor page,
  on a 20,000-product merchant among other shops, is pushed down and PostgreSQL's plan
  reads it through an index under a Limit, with no Sort. On MongoDB: an index scan.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Int64, ObjectId

from shared.read_model_indexes import ensure_read_model_indexes
from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.plugin import own_namespace_fixtures
from merchant_testkit.read_models import product_doc
from tests.support.bson_order import bson_equal, sort_ids, type_class

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()

ASC, DESC = 1, -1
SORTS = {
    "newest": ("created_at", DESC),
    "price_asc": ("price_amount", ASC),
    "price_desc": ("price_amount", DESC),
    "name": ("name_lower", ASC),
}
MERCHANTS = ("m_a", "m_b", "m_c")
CATEGORIES = ("shoes", "Shoes", "hats", "chaussures-été")

# --- MongoDB's order, for the scalar types these catalogues hold ---------------------------
# BSON type classes in comparison order (tests.support.bson_order.type_class indexes them),
# as $type aliases every server here knows.
CLASSES: tuple[tuple[str, ...], ...] = (
    (),
    ("number",),
    ("string",),
    ("object",),
    ("array",),
    ("binData",),
    ("objectId",),
    ("bool",),
    ("date",),
    ("timestamp",),
    ("regex",),
)


def reference(docs: list[dict], filters: dict, field: str, direction: int) -> list:
    chosen = [d for d in docs if all(bson_equal(d.get(k), v) for k, v in filters.items())]
    return sort_ids(chosen, field, direction)


# --- the two cursor shapes ---------------------------------------------------------------
def plain_after(field: str, direction: int, value: Any, last_id: str) -> dict:
    """The plain keyset shape (what Sort.after sent before it crossed type classes)."""
    op = "$gt" if direction == ASC else "$lt"
    return {"$or": [{field: {op: value}}, {field: value, "_id": {op: last_id}}]}


def typed_after(field: str, direction: int, value: Any, last_id: str) -> dict:
    """The documents after (value, last_id) in MongoDB's order of (field, _id), whatever
    the types: the same class and beyond, the classes after it ($type), and ties by _id.
    Descending, null and missing come last: ``{field: None}`` matches both."""
    op = "$gt" if direction == ASC else "$lt"
    c = type_class(value)
    beyond = range(c + 1, len(CLASSES)) if direction == ASC else range(1, c)
    arms: list[dict] = [{field: {op: value}}] if value is not None else []
    types = [alias for k in beyond for alias in CLASSES[k]]
    if types:
        arms.append({field: {"$type": types}})
    if direction == DESC and c > 0:
        arms.append({field: None})
    arms.append({field: value, "_id": {op: last_id}})
    return {"$or": arms}


async def walk(collection, filters: dict, field: str, direction: int, limit: int, after) -> list:
    """Every page, as the query API loads them: limit + 1 documents tell a next page."""
    seen: list = []
    cursor_filter = filters
    for _ in range(10_000):
        docs = (
            await collection.find(cursor_filter)
            .sort([(field, direction), ("_id", direction)])
            .limit(limit + 1)
            .to_list()
        )
        page = docs[:limit]
        seen += [d["_id"] for d in page]
        if len(docs) <= limit:
            return seen
        last = page[-1]
        cursor_filter = {"$and": [filters, after(field, direction, last.get(field), last["_id"])]}
    raise AssertionError("the walk does not end")


# --- random catalogues -------------------------------------------------------------------
NAMES = (
    "boot",
    "Boot",
    "BOOT",
    "béret",
    "beret",
    "Béret",
    "öko",
    "Öko",
    "zebra",
    "Zebra",
    "日本",
    "émoji 😀",
    "",
    "a",
    "ab",
    "a b",
    "z\u0301",
)


def numeric(rng: random.Random) -> Any:
    """Equal values in int32, int64 and double; halves; ties."""
    n = rng.randrange(0, 12)
    return rng.choice([n, Int64(n), float(n), n + 0.5, -n])


def catalogue(seed: int, size: int, mixed: bool) -> list[dict]:
    """Products with ties everywhere; ``mixed``: missing, null and other-typed sort values."""
    rng = random.Random(seed)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    docs = []
    for i in range(size):
        doc = {
            "_id": f"p-{rng.getrandbits(40):010x}-{i}",
            "merchant_id": rng.choice(MERCHANTS),
            "category": rng.choice(CATEGORIES),
            "visible": rng.random() < 0.9,
            "created_at": base + timedelta(minutes=rng.randrange(0, 6)),
            "price_amount": numeric(rng),
            "name_lower": rng.choice(NAMES),
            "tags": ["a", "b"],
        }
        if mixed:
            for field, others in (
                ("created_at", [None, "2026-01-01", 5]),
                ("price_amount", [None, "12", True, ObjectId(b"\x00" * 11 + bytes([i % 7]))]),
                ("name_lower", [None, 3, Int64(2), base]),
            ):
                roll = rng.random()
                if roll < 0.08:
                    del doc[field]
                elif roll < 0.2:
                    doc[field] = rng.choice(others)
        docs.append(doc)
    return docs


async def fresh_collection(db, name: str, docs: list[dict]):
    """The catalogue's collection with the read-model indexes, so pushed-down pages use them."""
    await db.drop_collection(name)
    await ensure_read_model_indexes(db, {CATALOG_PRODUCTS: name})
    await db[name].insert_many(docs)
    return db[name], await db[name].find({}).to_list()  # values as the server returns them


FILTERS = (
    {"visible": True},
    {"visible": True, "merchant_id": "m_a"},
    {"visible": True, "merchant_id": "m_a", "category": "shoes"},
)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("mixed", [False, True], ids=["one-type", "mixed-types"])
async def test_keyset_walk_equals_mongodb_order(mongo_db, seed, mixed):
    collection, docs = await fresh_collection(mongo_db, f"walk_{seed}_{int(mixed)}", catalogue(seed, 400, mixed))
    rng = random.Random(seed)
    for name, (field, direction) in SORTS.items():
        for filters in FILTERS:
            expected = reference(docs, filters, field, direction)
            limit = rng.choice([1, 3, 7, 20])
            shapes = [typed_after] if mixed else [typed_after, plain_after]
            for after in shapes:
                got = await walk(collection, filters, field, direction, limit, after)
                assert got == expected, (name, filters, limit, after.__name__)


async def test_fallbacks_stay_exact(mongo_db):
    """An array in a filter field (MongoDB matches its elements), numbers beyond 2^53 in a
    sort field: the build must not push such a page down, and the answer stays exact."""
    docs = catalogue(7, 200, mixed=False)
    for i, doc in enumerate(docs[:40]):
        doc["category"] = ["shoes", "hats"] if i % 2 else ["socks"]
        doc["price_amount"] = rng_big(i)
    collection, stored = await fresh_collection(mongo_db, "walk_fallback", docs)
    for field, direction in (("price_amount", ASC), ("price_amount", DESC), ("name_lower", ASC)):
        for filters in FILTERS:
            got = await walk(collection, filters, field, direction, 6, typed_after)
            assert got == reference(stored, filters, field, direction), (field, direction, filters)


def rng_big(i: int) -> Any:
    """Around 2^60 a double is stored as its shortest decimal: int64 and double interleave."""
    near = 2**60 + (i % 5) * 64
    return [Int64(near), float(near), Int64(near + 1), Int64(near - 1), 7][i % 5]


# --- plans on a 20,000-product merchant ---------------------------------------------------
BIG, BIG_SIZE, OTHERS, OTHER_SIZE, LIMIT = "m_big", 20_000, 4, 2_500, 20
PAGE_FILTERS = {
    "merchant": {"merchant_id": BIG, "visible": True},
    "merchant category": {"merchant_id": BIG, "visible": True, "category": "shoes"},
    "merchant price range": {"merchant_id": BIG, "visible": True, "price_amount": {"$gte": 1000, "$lte": 9000}},
    "merchant name prefix": {"merchant_id": BIG, "visible": True, "name_lower": {"$regex": "^city"}},
    "all shops": {"visible": True},
}


@pytest.fixture(scope="module")
async def big_catalogue(mongo_db):
    collection = mongo_db["pages_20k"]
    await ensure_read_model_indexes(mongo_db, {CATALOG_PRODUCTS: collection.name})
    rows = [(BIG, i) for i in range(BIG_SIZE)] + [(f"m_other{k}", i) for k in range(OTHERS) for i in range(OTHER_SIZE)]
    for start in range(0, len(rows), 2_000):
        await collection.insert_many([product_doc(m, i) for m, i in rows[start : start + 2_000]])
    return collection


def page_queries():
    for label, filters in PAGE_FILTERS.items():
        for sort_name, (field, direction) in SORTS.items():
            if label == "merchant price range" and field != "price_amount":
                continue
            if label == "merchant name prefix" and field != "name_lower":
                continue
            yield f"{label} / {sort_name}", filters, field, direction


def plan_nodes(node: dict, path: tuple = ()) -> list[tuple[tuple, dict]]:
    """(ancestors' node types, node) of every node of PostgreSQL's JSON plan."""
    here = (*path, node.get("Node Type"))
    found = [(here, node)]
    for child in node.get("Plans") or []:
        found += plan_nodes(child, here)
    return found


def page_scan(plan: dict) -> tuple[tuple, dict]:
    """The scan that feeds the pushed-down page: under the Limit of the CTE "page"."""
    for _path, node in plan_nodes(plan["queryPlanner"]["Plan"]):
        if node.get("Subplan Name") == "CTE page":
            scans = [
                (p, n)
                for p, n in plan_nodes(node)
                if "Scan" in (n.get("Node Type") or "") and n.get("Node Type") != "CTE Scan"
            ]
            assert len(scans) == 1, scans
            return scans[0]
    raise AssertionError(f"no pushed-down page in {json.dumps(plan, default=str)[:1500]}")


@pytest.mark.parametrize("query", list(page_queries()), ids=lambda q: q[0])
async def test_pages_are_read_through_an_index(big_catalogue, query, record_property):
    name, filters, field, direction = query
    sort = [(field, direction), ("_id", direction)]
    middle = await big_catalogue.find(filters).sort(sort).skip(1_000).limit(1).to_list()
    last = middle[0] if middle else {}
    for page, flt in (
        ("first", filters),
        ("cursor", {"$and": [filters, plain_after(field, direction, last.get(field), last.get("_id"))]}),
    ):
        plan = await big_catalogue.find(flt).sort(sort).limit(LIMIT + 1).explain()
        shown = json.dumps({k: plan.get(k) for k in ("sortPushdown", "limitPushdown")} | {"page": page}, default=str)
        if "ferretdbVersion" not in await big_catalogue.database.command("buildInfo"):
            assert "IXSCAN" in json.dumps(plan["queryPlanner"]["winningPlan"]), shown
            continue
        assert plan.get("sortPushdown") is True and plan.get("limitPushdown") is True, shown
        path, scan = page_scan(plan)
        record_property(
            f"{page} plan",
            json.dumps(
                {"path": path, "index": scan.get("Index Name"), "rows filtered after the index": "Filter" in scan}
            ),
        )
        assert scan["Node Type"] in ("Index Scan", "Index Only Scan"), (shown, path)
        assert "Limit" in path and "Sort" not in path, (shown, path)  # read in order, stopped at the limit
