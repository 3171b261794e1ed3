"""Catalogue pages that miss the cache, on two servers side by side: before and after a build.

Seeds the same catalogue (one merchant of ``--products`` products among other shops, the
project's read-model indexes) into a throw-away database on each server, then times each
catalogue page query through pymongo, ``limit + 1`` documents as the query API asks: every
catalogue sort, with and without a category, a price range and a name prefix, each as a
first page and as a cursor page from the middle of the list (today's cursor shape,
``Sort.after``). Rounds interleave the servers; medians and p95 per query, the load
average before and after, each server's seeding time (inserts pay for the indexes), and
what the second server's ``explain`` says.

    python -m loadtests.bench_page_pushdown --server before=mongodb://127.0.0.1:27017 \\
        --server after=mongodb://127.0.0.1:27047 --products 20000 --others 10000 --repeat 20

The database (``bench_pages_<random>``) is dropped at the end on every server.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime

from pymongo import MongoClient
from pymongo.collection import Collection

from shared.read_model_indexes import INDEXES, index_model
from shared.read_models import CATALOG_PRODUCTS

from merchant_testkit.read_models import product_doc

MERCHANT = "m_big"
SORTS = {
    "newest": ("created_at", -1),
    "price_asc": ("price_amount", 1),
    "price_desc": ("price_amount", -1),
    "name": ("name_lower", 1),
}
BASE = {"merchant_id": MERCHANT, "visible": True}


def page_queries() -> list[tuple[str, dict, str, int]]:
    """(name, filter, sort field, direction) of every catalogue page of one merchant."""
    queries = []
    for sort_name, (field, direction) in SORTS.items():
        queries.append((sort_name, BASE, field, direction))
        queries.append((f"category {sort_name}", BASE | {"category": "shoes"}, field, direction))
    queries.append(("price range price_asc", BASE | {"price_amount": {"$gte": 1000, "$lte": 9000}}, "price_amount", 1))
    queries.append(("name prefix name", BASE | {"name_lower": {"$regex": "^city"}}, "name_lower", 1))
    return queries


def after(field: str, direction: int, value, last_id: str) -> dict:
    """The documents after (value, last_id), in the plain keyset shape: for these sort
    fields (one type each) the same documents as query_api's Sort.after, which adds the
    arms that cross type classes (both shapes are one index range on our build)."""
    op = "$gt" if direction == 1 else "$lt"
    return {"$or": [{field: {op: value}}, {field: value, "_id": {op: last_id}}]}


def seed(collection: Collection, products: int, others: int) -> None:
    ferretdb = "ferretdbVersion" in collection.database.client.admin.command("buildInfo")
    # One at a time, as shared.mongo.ensure_indexes does: FerretDB v1 panics on a batch of
    # several indexes that exist already.
    for spec in INDEXES:
        if spec.collection == CATALOG_PRODUCTS:
            collection.create_indexes([index_model(spec, partial=not ferretdb)])
    rows = [(MERCHANT, i) for i in range(products)] + [(f"m_other{i % 4}", i) for i in range(others)]
    for start in range(0, len(rows), 2_000):
        collection.insert_many([product_doc(m, i) for m, i in rows[start : start + 2_000]], ordered=False)


def pages(collection: Collection, limit: int) -> list[tuple[str, dict, list]]:
    """(label, filter, sort) of each first page and of a cursor page from the list's middle."""
    found = []
    for name, filters, field, direction in page_queries():
        sort = [(field, direction), ("_id", direction)]
        total = collection.count_documents(filters)
        middle = collection.find(filters).sort(sort).skip(total // 2).limit(1).to_list()[0]
        found.append((f"{name} / first", filters, sort))
        found.append(
            (f"{name} / cursor", {"$and": [filters, after(field, direction, middle.get(field), middle["_id"])]}, sort)
        )
    return found


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def plan_summary(collection: Collection, filters: dict, sort: list, limit: int) -> str:
    plan = collection.find(filters).sort(sort).limit(limit + 1).explain()
    if "sortPushdown" not in plan:
        return "MongoDB: " + ("IXSCAN" if "IXSCAN" in json.dumps(plan["queryPlanner"]["winningPlan"]) else "no index")
    kinds = []
    stack = [plan["queryPlanner"]["Plan"]]
    while stack:
        node = stack.pop()
        if node.get("Subplan Name") == "CTE page":
            kinds = [n.get("Node Type") for n in _walk(node)]
        stack.extend(node.get("Plans") or [])
    shape = " > ".join(k for k in kinds if k != "CTE Scan") or "not pushed down"
    return f"sortPushdown={plan['sortPushdown']} limitPushdown={plan['limitPushdown']}: {shape}"


def _walk(node: dict) -> list[dict]:
    return [node] + [n for child in node.get("Plans") or [] for n in _walk(child)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--server",
        action="append",
        metavar="NAME=URL",
        help="a server to time (twice or more; the first is the baseline)",
    )
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--others", type=int, default=10_000, help="other shops' products")
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    servers = dict(
        s.split("=", 1) for s in args.server or ["before=mongodb://127.0.0.1:27017", "after=mongodb://127.0.0.1:27047"]
    )
    db_name = f"bench_pages_{uuid.uuid4().hex[:8]}"
    clients = {name: MongoClient(url, directConnection=True) for name, url in servers.items()}
    collections = {name: client[db_name][CATALOG_PRODUCTS] for name, client in clients.items()}
    try:
        seconds = {}
        for name, collection in collections.items():
            start = time.perf_counter()
            seed(collection, args.products, args.others)  # index upkeep is part of the price
            seconds[name] = time.perf_counter() - start
        queries = pages(next(iter(collections.values())), args.limit)
        load_before = os.getloadavg()
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeat):
            for label, filters, sort in queries:
                for name, collection in collections.items():
                    start = time.perf_counter()
                    collection.find(filters).sort(sort).limit(args.limit + 1).to_list()
                    times.setdefault((label, name), []).append((time.perf_counter() - start) * 1000)
        load_after = os.getloadavg()
        report(
            args,
            servers,
            queries,
            times,
            load_before,
            load_after,
            seconds,
            {label: plan_summary(collections[list(servers)[-1]], f, s, args.limit) for label, f, s in queries},
        )
    finally:
        for client in clients.values():
            client.drop_database(db_name)
            client.close()


def report(args, servers, queries, times, load_before, load_after, seeded, plans) -> None:
    names = list(servers)
    print(
        f"# Catalogue pages, {args.products} products of one merchant + {args.others} others, "
        f"limit {args.limit} (+1), {args.repeat} rounds"
    )
    print(
        f"\n{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f} (1 min); command: "
        f"`python -m loadtests.bench_page_pushdown {shlex.join(sys.argv[1:])}`"
    )
    print("; ".join(f"{n} = {u}" for n, u in servers.items()))
    print(
        "\nSeeding (insert_many of 2,000, the catalogue's indexes in place): "
        + ", ".join(f"{n} {s:.1f} s" for n, s in seeded.items())
    )
    head = " | ".join(f"{n} median | {n} p95" for n in names)
    print(f"\n| page | {head} | {names[0]}/{names[-1]} (median) |")
    print("|---|" + "---:|" * (2 * len(names) + 1))
    for label, _, _ in queries:
        cells = " | ".join(f"{statistics.median(times[(label, n)]):.1f} | {p95(times[(label, n)]):.1f}" for n in names)
        ratio = statistics.median(times[(label, names[0])]) / statistics.median(times[(label, names[-1])])
        print(f"| {label} | {cells} | {ratio:.0f}x |")
    every = {n: [t for (_, m), ts in times.items() if m == n for t in ts] for n in names}
    cells = " | ".join(f"{statistics.median(every[n]):.1f} | {p95(every[n]):.1f}" for n in names)
    print(f"| **all pages** | {cells} | |")
    print(f"\nPlans on {names[-1]} (the pushed-down page's nodes, outermost first):\n")
    for label, summary in plans.items():
        print(f"- {label}: {summary}")


if __name__ == "__main__":
    main()
