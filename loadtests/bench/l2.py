"""L2 (Redis) hit vs a raw Redis GET of the same stored value, both in this process on the
same Redis client, one request at a time: what the cache adds to one Redis round trip
(the generation check in the same ``MGET``, decoding the entry, filling L1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from loadtests.bench.catalogue import page_query, seeded
from loadtests.bench.clients import shared_client
from loadtests.bench.in_process import cached_page, query_side
from loadtests.bench.rounds import Pair, Side, closed_loop


@asynccontextmanager
async def pairs(bench, options) -> AsyncIterator[list[Pair]]:
    merchant = (await seeded(bench, options.products))[0]
    async with query_side(bench) as side:
        cache = side.cache
        query = cached_page(side, "products", merchant, page_query(side.db, merchant))
        body = (await cache.load(query.key, query)).body  # the one load: fills L2
        stored_key = f"{side.prefix}qc:{query.key}"
        stored = await side.redis.get(stored_key)
        if stored is None:
            raise RuntimeError(f"nothing stored under {stored_key}")

        async def l2_hit() -> bool:  # load() skips L1 by design: it is what runs after an L1 miss
            return (await cache.load(query.key, query)).body == body

        async def raw_get() -> bool:  # on the same Redis client as the cache's
            return await side.redis.get(stored_key) == stored

        def loop(operation):
            return closed_loop(shared_client(operation), options.seconds, 1, bench.zero)

        yield [
            Pair(
                "L2 (Redis) hit",
                "l2",
                "reads/s",
                Side("TwoLevelCache.load, L2 hit", loop(l2_hit)),
                Side(f"raw Redis GET of the same {len(stored):,} bytes", loop(raw_get)),
            )
        ]
        if cache.stats.l3_loads != 1:
            raise RuntimeError(f"expected L2 hits only; MongoDB loads: {cache.stats.l3_loads}")
