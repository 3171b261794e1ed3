"""Query misses (L1 and L2 miss: MongoDB, render, fill both levels) vs a raw pymongo
``find`` of the same page (same filter, projection, sort and limit), both in this process,
one request at a time: what the cache and rendering add to the database's own cost.

Two pairs: a small merchant's first page (the run's catalogue), and every catalogue page
shape of a 20,000-product merchant (issue 16) — each documented sort, with and without a
category, first page and a cursor page from the middle of the list — taken in turn, the
same shape on both sides, so the latency percentiles cover all 16 shapes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

from shared.read_models import CATALOG_PRODUCTS

from loadtests.bench.catalogue import PAGE_LIMIT, page_query, seeded
from loadtests.bench.clients import shared_client
from loadtests.bench.in_process import cached_page, query_side
from loadtests.bench.rounds import Pair, Side, closed_loop
from merchant_testkit.read_models import product_doc
from query_api.adapters.cache.two_level import Query
from query_api.adapters.indexes import ensure_query_indexes
from query_api.application.filters import PRODUCT_SORTS, catalog_filters
from query_api.application.pagination import fingerprint
from query_api.application.read_models import PRODUCT_VIEW
from query_api.entrypoints.bootstrap import QuerySide
from query_api.entrypoints.endpoints.common import list_query

BIG_MERCHANT, BIG_PRODUCTS = "bench-big", 20_000


@dataclass(frozen=True)
class Shape:
    """One page of the big merchant, as the route builds it and as a raw ``find`` reads it."""

    label: str
    query: Query  # what the route hands the cache
    filters: dict[str, Any]  # the raw find's: the route's filter, and the cursor's if any
    sort: list[tuple[str, int]]
    projection: dict[str, Any]


async def seed_big_merchant(side: QuerySide) -> None:
    await ensure_query_indexes(side.db)  # what a query API process does at start
    rng = random.Random(16)
    for start in range(0, BIG_PRODUCTS, 1000):
        docs = [product_doc(BIG_MERCHANT, i, rng) for i in range(start, min(start + 1000, BIG_PRODUCTS))]
        await side.db[CATALOG_PRODUCTS].insert_many(docs)
    # Statistics now, as a server has them some time after a bulk load (FerretDB: collStats
    # runs PostgreSQL's ANALYZE, which autovacuum would run within a minute or so; without
    # statistics its planner may sort the whole merchant for a first page).
    await side.db.command("collStats", CATALOG_PRODUCTS)


async def big_merchant_shapes(side: QuerySide) -> list[Shape]:
    shapes = []
    for sort_name, sort in PRODUCT_SORTS.items():
        for category in (None, "shoes"):
            values: dict[str, Any] = {"merchant": BIG_MERCHANT, "sort": sort_name, "limit": PAGE_LIMIT}
            if category:
                values["category"] = category
            filters = catalog_filters(values)
            matching = await side.db[CATALOG_PRODUCTS].count_documents(filters)
            middle = side.db[CATALOG_PRODUCTS].find(filters).sort(sort.mongo).skip(matching // 2).limit(1)
            [doc] = await middle.to_list()
            position = (doc.get(sort.field), doc["_id"])
            cursor = side.codec.encode(sort_name, fingerprint(filters), *position)
            for page, extra, raw_filters in (
                ("first page", {}, filters),
                ("cursor page", {"cursor": cursor}, {"$and": [filters, sort.after(*position)]}),
            ):
                page_values = {**values, **extra}
                query = list_query(
                    side,
                    collection=CATALOG_PRODUCTS,
                    filters=filters,
                    view=PRODUCT_VIEW,
                    sorts=PRODUCT_SORTS,
                    values=page_values,
                    key="products",
                    tag=(CATALOG_PRODUCTS, BIG_MERCHANT),
                    l2_ttl=side.settings.cache_ttl("list"),
                )
                label = f"{sort_name}{', ' + category if category else ''}, {page}"
                projection = PRODUCT_VIEW.projection(None, extra=(sort.field,))
                shapes.append(Shape(label, query, raw_filters, sort.mongo, projection))
    return shapes


def in_turn(shapes: list[Shape], run: Callable[[Shape], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    """An operation that runs the next shape each time (both sides walk them in one order)."""
    turn = itertools.cycle(shapes)

    async def operation() -> bool:
        return await run(next(turn))

    return operation


@asynccontextmanager
async def pairs(bench: Any, options: Any) -> AsyncIterator[list[Pair]]:
    merchant = (await seeded(bench, options.products))[0]
    async with query_side(bench) as side:
        await seed_big_merchant(side)
        shapes = await big_merchant_shapes(side)
        cache = side.cache
        page = page_query(side.db, merchant)
        template = cached_page(side, "products", merchant, page)
        keys = itertools.count()
        projection = page.view.projection(None, extra=(page.sort.field,))

        async def miss() -> bool:  # a key nobody loaded: misses L1 and L2, loads, fills both
            key = f"bench-miss:{next(keys)}"
            return bool((await cache.load(key, replace(template, key=key))).body)

        async def raw_find() -> bool:
            cursor = page.collection.find(page.filters, projection).sort(page.sort.mongo).limit(PAGE_LIMIT + 1)
            return bool(await cursor.to_list())

        async def big_miss(shape: Shape) -> bool:
            key = f"bench-miss:{next(keys)}"
            return bool((await cache.load(key, replace(shape.query, key=key))).body)

        async def big_raw_find(shape: Shape) -> bool:
            found = side.db[CATALOG_PRODUCTS].find(shape.filters, shape.projection).sort(shape.sort)
            return bool(await found.limit(PAGE_LIMIT + 1).to_list())

        def loop(operation: Callable[[], Awaitable[bool]]) -> Any:
            return closed_loop(shared_client(operation), options.seconds, 1, bench.zero)

        yield [
            Pair(
                "query miss (MongoDB)",
                "miss",
                "reads/s",
                Side("TwoLevelCache.load, miss", loop(miss)),
                Side("raw pymongo find of the same page", loop(raw_find)),
            ),
            Pair(
                f"catalogue page miss, {BIG_PRODUCTS:,}-product merchant ({len(shapes)} page shapes in turn)",
                "miss",
                "reads/s",
                Side("TwoLevelCache.load of the route's query, miss", loop(in_turn(shapes, big_miss))),
                Side("raw pymongo find of the same page", loop(in_turn(shapes, big_raw_find))),
            ),
        ]
        if cache.stats.l2_hits or cache.stats.shared_loads:
            raise RuntimeError(f"expected misses only: {cache.stats.snapshot()}")
