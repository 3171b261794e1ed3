"""Query miss (L1 and L2 miss: MongoDB, render, fill both levels) vs a raw pymongo ``find``
of the same page (same filter, projection, sort and limit), both in this process, one
request at a time: what the cache and rendering add to the database's own cost."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace

from loadtests.bench.catalogue import PAGE_LIMIT, page_query, seeded
from loadtests.bench.clients import shared_client
from loadtests.bench.in_process import cached_page, query_side
from loadtests.bench.rounds import Pair, Side, closed_loop


@asynccontextmanager
async def pairs(bench, options) -> AsyncIterator[list[Pair]]:
    merchant = (await seeded(bench, options.products))[0]
    async with query_side(bench) as side:
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

        def loop(operation):
            return closed_loop(shared_client(operation), options.seconds, 1, bench.zero)

        yield [
            Pair(
                "query miss (MongoDB)",
                "miss",
                "reads/s",
                Side("TwoLevelCache.load, miss", loop(miss)),
                Side("raw pymongo find of the same page", loop(raw_find)),
            )
        ]
        if cache.stats.l2_hits or cache.stats.shared_loads:
            raise RuntimeError(f"expected misses only: {cache.stats.snapshot()}")
