"""How fast each query shape reads the derived counters of a batch's keys (issue #15).

    eval "$(merchant infra env)"
    python -m loadtests.counter_reads --sizes 50000,200000 --keys 300,1000 --rounds 3

Builds, in a database of its own (``--db``, dropped at the end unless ``--keep``), one
counters collection per size with the projector's index on (key, source), filled with
lookalikes of ``merchant_stats_counters``: 4 sources (topic partitions) per key, keys
``m<merchant>:<day>``, 12 status/sum counts and 20 ``units:<product>`` counts with their
names. Then, per size and key count, the counters of that many random keys are read by
each shape, in an order alternating between rounds, and the median time is printed:

- ``eq32``: one ``{key: v}`` query per key, 32 at a time (``find_in`` on FerretDB-PG before);
- ``in<n>``: ``{key: {$in: chunk}}`` in chunks of n, 32 chunks at a time;
- ``in<n>+sort``: the same with ``sort(key, source)`` and a limit (FerretDB's sort and limit
  pushdown: one SQL statement through the btree index);
- ``idre``: one ``{_id: {$regex: "^<escaped key>\\|"}}`` per key, sorted by ``_id`` and limited,
  32 at a time (explain: a sequential scan each; the _id index is not the sort pushdown's).

Only ``DEFAULT_SHAPES`` unless ``--only`` names others. Every shape's result is checked
against ``eq32`` (the same counters). Filling is slow on FerretDB (50,000 lookalikes took
3 min on the shared machine); ``--keep`` then ``--reuse`` reads them again. Not a benchmark:
small timings on a shared machine; compare within one run only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import random
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

Doc = dict[str, Any]
SOURCES = 4
# The slow ones (in50, in200 unsorted: a sequential scan each; idre: one per key) only
# when named in --only: on a shared server they hold PostgreSQL for minutes.
DEFAULT_SHAPES = ["eq32", "in10", "in10+sort", "in50+sort", "in200+sort"]
CONCURRENT = 32


def lookalike(key: str, merchant: int, day: str, source: int, rng: random.Random) -> Doc:
    counts = {
        "orders_placed": rng.randint(1, 50),
        "revenue": rng.randint(1000, 10**7),
        "units_sold": rng.randint(1, 200),
        "paid_orders": rng.randint(0, 50),
        "payments_failed": rng.randint(0, 5),
        "processing_seconds": rng.randint(0, 10**6),
        "shipped_orders": rng.randint(0, 50),
        **{
            f"status:{s}": rng.randint(0, 20)
            for s in ("placed", "paid", "shipped", "delivered", "cancelled", "refunded")
        },
    }
    products = rng.sample(range(5000), 20)
    counts |= {f"units:p{p:06d}": rng.randint(1, 30) for p in products}
    version = rng.randint(1, 10**6)
    return {
        "_id": f"{key}|orders.events#{source}|{version}",
        "key": key,
        "source": f"orders.events#{source}",
        "version": version,
        "merchant_id": f"m{merchant}",
        "day": day,
        "counts": dict(sorted(counts.items())),
        "names": {
            f"p{p:06d}": {"name": f"Product {p}", "placed_at": "2026-12-01T10:00:00Z", "order_id": f"o{p}"}
            for p in products
        },
    }


def keys_for(size: int) -> list[tuple[str, int, str]]:
    """``size / SOURCES`` keys: 20 merchants, consecutive days."""
    first = datetime.date(2020, 1, 1)
    return [
        (f"m{i % 20}:{first + datetime.timedelta(days=i // 20)}", i % 20, str(first + datetime.timedelta(days=i // 20)))
        for i in range(size // SOURCES)
    ]


async def fill(coll: AsyncCollection[Doc], size: int, reuse: bool) -> list[str]:
    rng = random.Random(size)
    if reuse:  # kept from an earlier run (--keep); FerretDB v1 counts by reading every document
        return [k for k, _, _ in keys_for(size)]
    await coll.drop()
    await coll.create_index([("key", 1), ("source", 1)], name="stats_counters_key")
    keys = keys_for(size)
    docs = [lookalike(k, m, d, s, rng) for k, m, d in keys for s in range(SOURCES)]
    for i in range(0, len(docs), 5000):
        await coll.insert_many(docs[i : i + 5000], ordered=False)
    return [k for k, _, _ in keys]


async def gated(items: list[Any], read: Callable[[Any], Awaitable[list[Doc]]]) -> list[Doc]:
    gate = asyncio.Semaphore(CONCURRENT)

    async def one(item: Any) -> list[Doc]:
        async with gate:
            return await read(item)

    return [d for docs in await asyncio.gather(*(one(i) for i in items)) for d in docs]


def chunks(items: list[str], n: int) -> list[list[str]]:
    return [items[i : i + n] for i in range(0, len(items), n)]


def shapes(coll: AsyncCollection[Doc]) -> dict[str, Callable[[list[str]], Awaitable[list[Doc]]]]:
    async def eq32(keys: list[str]) -> list[Doc]:
        return await gated(keys, lambda k: coll.find({"key": k}).to_list())

    def in_chunks(n: int, sort: bool) -> Callable[[list[str]], Awaitable[list[Doc]]]:
        async def read(keys: list[str]) -> list[Doc]:
            def query(chunk: list[str]) -> Awaitable[list[Doc]]:
                cursor = coll.find({"key": {"$in": chunk}})
                if sort:
                    cursor = cursor.sort([("key", 1), ("source", 1)]).limit(len(chunk) * 1000)
                return cursor.to_list()

            return await gated(chunks(keys, n), query)

        return read

    async def idre(keys: list[str]) -> list[Doc]:
        def query(k: str) -> Awaitable[list[Doc]]:
            return coll.find({"_id": {"$regex": "^" + re.escape(k + "|")}}).sort("_id", 1).limit(1000).to_list()

        return await gated(keys, query)

    found: dict[str, Callable[[list[str]], Awaitable[list[Doc]]]] = {"eq32": eq32, "idre": idre}
    for n in (10, 50, 200):
        found[f"in{n}"] = in_chunks(n, False)
        found[f"in{n}+sort"] = in_chunks(n, True)
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mongodb://127.0.0.1:27017")
    parser.add_argument("--db", default="counter_reads_probe")
    parser.add_argument("--sizes", default="50000,200000")
    parser.add_argument("--keys", default="300,1000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated shape names (default: DEFAULT_SHAPES)")
    parser.add_argument("--keep", action="store_true", help="leave the database in place")
    parser.add_argument("--reuse", action="store_true", help="read the collections a --keep run left")
    args = parser.parse_args()
    client: AsyncMongoClient[Doc] = AsyncMongoClient(args.url)
    db = client[args.db]
    try:
        for size in (int(s) for s in args.sizes.split(",")):
            coll = db[f"counters_{size}"]
            started = time.perf_counter()
            keys = await fill(coll, size, args.reuse)
            print(f"{size} counters ({len(keys)} keys x {SOURCES} sources) in {time.perf_counter() - started:.1f} s")
            readers = shapes(coll)
            wanted = args.only.split(",") if args.only else DEFAULT_SHAPES
            readers = {n: r for n, r in readers.items() if n in wanted}
            for count in (int(k) for k in args.keys.split(",")):
                timings: dict[str, list[float]] = {n: [] for n in readers}
                for rnd in range(args.rounds):
                    picked = random.Random(rnd).sample(keys, count)
                    expected = {d["_id"] for d in await readers.get("eq32", shapes(coll)["eq32"])(picked)}
                    order = list(readers) if rnd % 2 == 0 else list(reversed(readers))
                    for name in order:
                        t = time.perf_counter()
                        got = await readers[name](picked)
                        timings[name].append(time.perf_counter() - t)
                        ids = [d["_id"] for d in got]
                        assert len(ids) == len(set(ids)) and set(ids) == expected, name
                        print(f"    round {rnd} {name}: {timings[name][-1] * 1000:.0f} ms", flush=True)
                for name, ts in timings.items():
                    each = ", ".join(f"{t * 1000:.0f}" for t in ts)
                    median = statistics.median(ts) * 1000
                    print(f"  {size:>7} counters, {count:>5} keys: {name:<10} median {median:8.0f} ms  ({each})")
    finally:
        if not args.keep:
            await client.drop_database(args.db)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
