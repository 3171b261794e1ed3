"""What a bulk of guarded replaces costs, side by side on two servers (issue 15).

    eval "$(merchant infra env)"
    python -m loadtests.guarded_replace_cost                      # the servers of `merchant infra env` only
    python -m loadtests.guarded_replace_cost --other mongodb://127.0.0.1:27019   # and another server

The projectors write states and views as unordered bulks of ``ReplaceOne({_id, version:
{$lt: n}}, <document at n>, upsert=True)`` (``projectors.adapters.bulk.guarded_replace``).
Per server, in a database of its own (dropped at the end): a collection of ``--size``
product-like documents at version 1, then ``--rounds`` rounds, alternating which server
goes first, each replacing ``--bulk`` of them (the next ones each round) by version
``round + 2`` in one ``bulk_write``; the median seconds per bulk and per document, and
the ratio of the other server's median to the first's. To compare our FerretDB build
with the one before ``pg-guarded-replace-one-statement.patch``, run that build beside
ours on the same PostgreSQL (a database name per server: two FerretDB processes do not
share their metadata caches), e.g. the binary built from ``infra/ferretdb`` at the
commit before the patch: ``<binary> -listen 127.0.0.1:27019 -handler postgresql
-postgresql-url "postgres://postgres@127.0.0.1:5433/postgres?plan_cache_mode=force_custom_plan"``.
Not a test: compare within one run only, on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from typing import Any

from pymongo import MongoClient, ReplaceOne
from pymongo.collection import Collection


def product(i: int, version: int) -> dict[str, Any]:
    return {
        "_id": f"p{i:07d}",
        "version": version,
        "merchant_id": f"m{i % 20}",
        "name": f"Product {i}",
        "description": "x" * 200,
        "price_amount": 100 + i % 5000,
        "tags": ["a", "b"],
        "attributes": {"colour": "red", "size": i % 40},
    }


def fill(collection: Collection[dict[str, Any]], size: int) -> None:
    collection.drop()
    for start in range(0, size, 5000):
        collection.insert_many([product(i, 1) for i in range(start, min(start + 5000, size))])


def replace(collection: Collection[dict[str, Any]], first: int, bulk: int, version: int) -> float:
    ops = [
        ReplaceOne({"_id": d["_id"], "version": {"$lt": version}}, d, upsert=True)
        for d in (product(i, version) for i in range(first, first + bulk))
    ]
    began = time.perf_counter()
    collection.bulk_write(ops, ordered=False)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--other", help="a second server's MongoDB URL, measured beside the first")
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--bulk", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    urls = {"first": os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")}
    if args.other:
        urls["other"] = args.other
    run = uuid.uuid4().hex[:8]
    clients = {name: MongoClient(url) for name, url in urls.items()}
    targets = {name: client[f"guarded_cost_{name}_{run}"]["products"] for name, client in clients.items()}
    try:
        for target in targets.values():
            fill(target, args.size)
        seconds: dict[str, list[float]] = {name: [] for name in targets}
        for r in range(args.rounds):
            order = list(targets) if r % 2 == 0 else list(targets)[::-1]
            for name in order:
                seconds[name].append(replace(targets[name], (r * args.bulk) % args.size, args.bulk, r + 2))
        for name, url in urls.items():
            median = statistics.median(seconds[name])
            rounds = ", ".join(f"{s:.3f}" for s in seconds[name])
            per_document = median / args.bulk * 1000
            print(f"{name} ({url}): {median:.3f} s per bulk of {args.bulk} = {per_document:.3f} ms a document")
            print(f"  rounds: {rounds}")
        if args.other:
            print(f"other / first: {statistics.median(seconds['other']) / statistics.median(seconds['first']):.1f}x")
    finally:
        for name, client in clients.items():
            client.drop_database(f"guarded_cost_{name}_{run}")
            client.close()


if __name__ == "__main__":
    main()
