"""Property, on the real server: walking the catalogue with the query API's own cursors
gives exactly MongoDB's order (issue 16).

For seeded random catalogues — ties everywhere; int32, int64 and double of equal value;
missing and null sort values; Unicode and case variants of names; and, in the "mixed"
variants, sort fields holding values of other types — every catalogue sort, with and
without the merchant and the category filters, is walked page by page through what the
route builds (``catalog_filters``, ``list_query``: the cursor codec, ``Sort.after``, the
read-ahead) and compared with a reference of MongoDB's order (``tests/support/bson_order``).
Read-ahead on and off: the pages read ahead must be the pages a request would get.

Its own namespace: the odd documents stay out of the other modules' catalogue (and of the
schemathesis run, whose response schemas they would not match).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from bson import Int64

from shared.read_model_indexes import ensure_read_model_indexes
from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.plugin import own_namespace_fixtures
from query_api.application.filters import PRODUCT_SORTS, catalog_filters
from query_api.application.ports import Loaded
from query_api.application.read_models import PRODUCT_VIEW
from query_api.entrypoints.bootstrap import QuerySide, bootstrap, close
from query_api.entrypoints.endpoints.common import list_query
from tests.integration.query_api.conftest import query_settings
from tests.support.bson_order import bson_equal, sort_ids

pytestmark = pytest.mark.integration
server_env, settings, mongo_db = own_namespace_fixtures()

MERCHANTS = ("m_a", "m_b", "m_c")
CATEGORIES = ("shoes", "Shoes", "hats", "chaussures-été")
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
    "日本",
    "émoji 😀",
    "",
    "a b",
    "z\u0301",
)
BASE = datetime(2026, 1, 1, tzinfo=UTC)
OTHER_TYPES = {  # what a sort field may hold in the mixed variants (types a cursor can carry)
    "created_at": [None, "2026-01-01", 5],
    "price_amount": [None, "12", True, BASE],
    "name_lower": [None, 3, Int64(2), BASE],
}


def numeric(rng: random.Random) -> Any:
    n = rng.randrange(0, 12)
    return rng.choice([n, Int64(n), float(n), n + 0.5, -n])


def catalogue(seed: int, size: int, mixed: bool) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(size):
        doc = {
            "_id": f"p-{rng.getrandbits(40):010x}-{i}",
            "merchant_id": rng.choice(MERCHANTS),
            "category": rng.choice(CATEGORIES),
            "visible": rng.random() < 0.9,
            "created_at": BASE + timedelta(minutes=rng.randrange(6)),
            "price_amount": numeric(rng),
            "name_lower": rng.choice(NAMES),
        }
        if mixed:
            for field, others in OTHER_TYPES.items():
                roll = rng.random()
                if roll < 0.08:
                    del doc[field]
                elif roll < 0.2:
                    doc[field] = rng.choice(others)
        docs.append(doc)
    return docs


@pytest.fixture(scope="module")
async def side(server_env, settings) -> Any:
    query_side = bootstrap(query_settings(server_env, cursor_read_ahead_pages=3))
    yield query_side
    await close(query_side)


async def fill(db: Any, seed: int, mixed: bool) -> list[dict[str, Any]]:
    await db.drop_collection(CATALOG_PRODUCTS)
    await ensure_read_model_indexes(db, {CATALOG_PRODUCTS: CATALOG_PRODUCTS})
    await db[CATALOG_PRODUCTS].insert_many(catalogue(seed, 300, mixed))
    return await db[CATALOG_PRODUCTS].find({}).to_list()  # values as the server returns them


async def walk(side: QuerySide, values: dict[str, Any], read_ahead: bool) -> list[str]:
    """Every page as the route loads it; with read-ahead, the pages it hands the cache
    are taken as the next requests' answers (they are cached under those requests' keys)."""
    ids: list[str] = []
    cursor = None
    for _ in range(1_000):
        request = {**values, **({"cursor": cursor} if cursor else {})}
        query = list_query(
            side,
            collection=CATALOG_PRODUCTS,
            filters=catalog_filters(request),
            view=PRODUCT_VIEW,
            sorts=PRODUCT_SORTS,
            values=request,
            key="products",
            tag=(CATALOG_PRODUCTS, "*"),
            l2_ttl=60,
        )
        loaded = await query.loader()
        assert isinstance(loaded, Loaded)
        bodies = [loaded.body, *(body for _, body, _ in loaded.following if read_ahead)]
        for body in bodies:
            page = json.loads(body)
            ids += [item["id"] for item in page["data"]]
            cursor = page["next_cursor"]
            if not page["has_next"]:
                return ids
    raise AssertionError("the walk does not end")


def reference(docs: list[dict[str, Any]], filters: dict[str, Any], sort: str) -> list[str]:
    chosen = [d for d in docs if all(bson_equal(d.get(k), v) for k, v in filters.items())]
    return sort_ids(chosen, PRODUCT_SORTS[sort].field, PRODUCT_SORTS[sort].direction)


FILTERS = ({}, {"merchant": "m_a"}, {"merchant": "m_a", "category": "shoes"})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("mixed", [False, True], ids=["one-type", "mixed-types"])
async def test_cursor_walks_equal_mongodb_order(mongo_db, side, seed, mixed):
    docs = await fill(mongo_db, seed, mixed)
    rng = random.Random(seed)
    for sort in PRODUCT_SORTS:
        for extra in FILTERS:
            values = {**extra, "sort": sort, "limit": rng.choice([3, 7, 20]), "fields": ("id",)}
            expected = reference(docs, catalog_filters(extra), sort)
            assert len(expected) > 10, "the catalogue must give this walk several pages"
            for read_ahead in (False, True):
                got = await walk(side, values, read_ahead)
                assert got == expected, (sort, extra, values["limit"], read_ahead)
