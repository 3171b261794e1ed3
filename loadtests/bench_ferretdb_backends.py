"""FerretDB on SQLite vs FerretDB on PostgreSQL: our hot queries, side by side in one run.

Seeds the same documents into a throw-away database on each server (an events-like
``commits`` collection and a products-like ``catalog_products`` collection, with the
project's real indexes), then times each operation on both servers in interleaved rounds
and prints medians, the PG/SQLite ratio and what ``explain`` says.

    python -m loadtests.bench_ferretdb_backends \
        --sqlite mongodb://127.0.0.1:27017 --postgresql mongodb://127.0.0.1:27018 \
        --commits 10000 --products 5000 --rounds 3 --bulk 100

The database (``bench_backends_<random>_<server>``) is dropped at the end on both servers.

Any two servers compare the same way: ``--server NAME=URL`` twice (the first is the
baseline of the ratio), e.g. two FerretDB builds on one PostgreSQL cluster:

    python -m loadtests.bench_ferretdb_backends --server before=mongodb://127.0.0.1:27027 \
        --server after=mongodb://127.0.0.1:27017 --commits 100000 --products 20000
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bson import ObjectId
from pymongo import ASCENDING, MongoClient, ReplaceOne
from pymongo.database import Database

from shared.read_model_indexes import CAT_CATEGORY_PRICE
from shared.read_model_indexes import INDEXES as READ_MODEL_INDEXES
from shared.read_models import CATALOG_PRODUCTS

from command_api.adapters.event_store import INDEXES as COMMIT_INDEXES

AGGREGATE_VERSIONS = 10  # commits per aggregate
MERCHANTS = 50
CATEGORIES = 20
BATCH = 1000


def commit_doc(aggregate: int, version: int) -> dict:
    aggregate_id = f"prod-{aggregate:07d}"
    return {
        "_id": ObjectId(),
        "aggregate_type": "product",
        "aggregate_id": aggregate_id,
        "merchant_id": f"m{aggregate % MERCHANTS:03d}",
        "command_id": str(uuid.uuid4()),
        "version": version,
        "last_version": version,
        "published": True,
        "committed_at": datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=aggregate),
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "type": "ProductPriceChanged",
                "schema_version": 1,
                "aggregate_type": "product",
                "aggregate_id": aggregate_id,
                "aggregate_version": version,
                "merchant_id": f"m{aggregate % MERCHANTS:03d}",
                "occurred_at": "2026-11-01T00:00:00+00:00",
                "correlation_id": str(uuid.uuid4()),
                "causation_id": None,
                "data": {"price": {"amount": 100 + version, "currency": "EUR"}},
            }
        ],
    }


def product_doc(n: int, version: int = 1) -> dict:
    return {
        "_id": f"prod-{n:07d}",
        "merchant_id": f"m{n % MERCHANTS:03d}",
        "visible": n % 10 != 0,
        "category": f"cat-{(n // MERCHANTS) % CATEGORIES:02d}",
        "price_amount": (n * 7919) % 100_000,
        "currency": "EUR",
        "name": f"Product {n}",
        "name_lower": f"product {n}",
        "sku": f"SKU-{n}",
        "stock": n % 50,
        "stock_status": "in_stock",
        "version": version,
        "created_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
        "updated_at": datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n),
    }


def ensure_indexes(db: Database) -> None:
    """The project's indexes, one createIndexes at a time (as shared.mongo.ensure_indexes)."""
    for model in COMMIT_INDEXES:
        db.commits.create_indexes([model])
    for spec in READ_MODEL_INDEXES:
        if spec.collection == CATALOG_PRODUCTS:
            keys = list(spec.fallback_keys() if spec.partial else spec.keys)
            db[CATALOG_PRODUCTS].create_index(keys, name=spec.name)


def seed(db: Database, commits: int, products: int) -> float:
    began = time.perf_counter()
    ensure_indexes(db)
    aggregates = commits // AGGREGATE_VERSIONS
    docs = (commit_doc(a, v) for v in range(1, AGGREGATE_VERSIONS + 1) for a in range(aggregates))
    _insert_batches(db.commits, docs)
    _insert_batches(db[CATALOG_PRODUCTS], (product_doc(n) for n in range(products)))
    return time.perf_counter() - began


def _insert_batches(collection, docs) -> None:
    batch = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == BATCH:
            collection.insert_many(batch, ordered=False)
            batch = []
    if batch:
        collection.insert_many(batch, ordered=False)


class Operations:
    """One callable per measured operation; each call picks fresh random keys."""

    def __init__(self, commits: int, products: int, seed_: int, bulk: int = 1000) -> None:
        self.aggregates = commits // AGGREGATE_VERSIONS
        self.products = products
        self.bulk = bulk
        self.rng = random.Random(seed_)
        self.version = 1  # guarded replaces keep bumping it

    def plan(self) -> dict[str, Callable[[Database], object]]:
        return {
            "load aggregate (find aggregate_id, sort version)": self.load_aggregate,
            "find_one by command_id": self.find_command,
            "catalogue page (merchant, visible, category; sort price,_id; limit 21)": self.catalogue_page,
            "guarded replace_one {_id, version $lt}": self.guarded_replace,
            f"bulk_write {self.bulk:,} guarded upserts": self.bulk_upserts,
            "insert_many 1,000 commits": self.insert_many,
            "find_one by _id": self.find_by_id,
        }

    def load_aggregate(self, db: Database) -> object:
        aggregate_id = f"prod-{self.rng.randrange(self.aggregates):07d}"
        docs = list(db.commits.find({"aggregate_id": aggregate_id}, {"events": 1}).sort("version", ASCENDING))
        assert len(docs) == AGGREGATE_VERSIONS, (aggregate_id, len(docs))
        return docs

    def find_command(self, db: Database) -> object:
        # a command id that is not there: the idempotency check before most appends
        return db.commits.find_one({"command_id": str(uuid.uuid4())})

    def catalogue_page(self, db: Database) -> object:
        n = self.rng.randrange(self.products)
        filter_ = {
            "merchant_id": f"m{n % MERCHANTS:03d}",
            "visible": True,
            "category": f"cat-{(n // MERCHANTS) % CATEGORIES:02d}",
        }
        docs = list(db[CATALOG_PRODUCTS].find(filter_).sort([("price_amount", 1), ("_id", 1)]).limit(21))
        assert docs, filter_
        return docs

    def guarded_replace(self, db: Database) -> object:
        self.version += 1
        doc = product_doc(self.rng.randrange(self.products), self.version + 1_000)
        return db[CATALOG_PRODUCTS].replace_one({"_id": doc["_id"], "version": {"$lt": doc["version"]}}, doc)

    def bulk_upserts(self, db: Database) -> object:
        self.version += 1
        start = self.rng.randrange(self.products - self.bulk)
        ops = [
            ReplaceOne({"_id": d["_id"], "version": {"$lt": d["version"]}}, d, upsert=True)
            for d in (product_doc(n, self.version + 1_000) for n in range(start, start + self.bulk))
        ]
        return db[CATALOG_PRODUCTS].bulk_write(ops, ordered=False)

    def insert_many(self, db: Database) -> object:
        base = 10_000_000 + self.rng.randrange(10_000_000)
        return db.commits.insert_many([commit_doc(base + i, 1) for i in range(1000)], ordered=False)

    def find_by_id(self, db: Database) -> object:
        return db[CATALOG_PRODUCTS].find_one({"_id": f"prod-{self.rng.randrange(self.products):07d}"})


def explain(db: Database, collection: str, filter_: dict, sort: list | None = None, limit: int = 0) -> dict:
    command = {"find": collection, "filter": filter_}
    if sort:
        command["sort"] = dict(sort)
    if limit:
        command["limit"] = limit
    return db.command({"explain": command})


def plan_text(result: dict) -> str:
    """The backend's own plan, flattened to one line (SQLite: QUERY PLAN rows; PG: EXPLAIN JSON)."""
    planner = result.get("queryPlanner", {})
    return str(planner)[:400]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sqlite", default="mongodb://127.0.0.1:27017")
    parser.add_argument("--postgresql", default="mongodb://127.0.0.1:27018")
    parser.add_argument("--commits", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--bulk", type=int, default=1000, help="upserts per bulk_write")
    parser.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="two servers to compare instead of --sqlite/--postgresql (first: baseline)",
    )
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()

    name = f"bench_backends_{uuid.uuid4().hex[:8]}"
    servers = dict(entry.split("=", 1) for entry in args.server) or {
        "sqlite": args.sqlite,
        "postgresql": args.postgresql,
    }
    if len(servers) != 2:
        parser.error("compare exactly two servers")
    base, other = servers
    clients = {k: MongoClient(url, directConnection=True) for k, url in servers.items()}
    # a database name per server: two FerretDB builds on one PostgreSQL share its schemas
    dbs = {k: c[f"{name}_{k}"] for k, c in clients.items()}
    try:
        for backend, db in dbs.items():
            print(f"seeding {backend}: {args.commits} commits, {args.products} products ...", flush=True)
            print(f"  seeded in {seed(db, args.commits, args.products):.1f} s", flush=True)

        ops = {k: Operations(args.commits, args.products, seed_=7, bulk=args.bulk) for k in dbs}
        timings: dict[str, dict[str, list[float]]] = {k: {} for k in dbs}
        for round_ in range(args.rounds):
            for label in ops[base].plan():
                order = list(dbs) if round_ % 2 == 0 else list(reversed(dbs))
                for backend in order:
                    fn = ops[backend].plan()[label]
                    began = time.perf_counter()
                    fn(dbs[backend])
                    timings[backend].setdefault(label, []).append((time.perf_counter() - began) * 1000)
            print(f"round {round_ + 1}/{args.rounds} done", flush=True)

        print(f"\n| operation | {base} median ms | {other} median ms | {base} / {other} |")
        print("|---|---:|---:|---:|")
        for label in ops[base].plan():
            b = statistics.median(timings[base][label])
            o = statistics.median(timings[other][label])
            print(f"| {label} | {b:.1f} | {o:.1f} | {b / o:.2f}x |")

        spec = next(s for s in READ_MODEL_INDEXES if s.name == CAT_CATEGORY_PRICE)
        shapes = {
            "commits by aggregate_id": ("commits", {"aggregate_id": "prod-0000042"}, [("version", 1)], 0),
            "commits by command_id": ("commits", {"command_id": "x"}, None, 0),
            "catalogue page": (
                CATALOG_PRODUCTS,
                {"merchant_id": "m001", "visible": True, "category": "cat-03"},
                list(spec.sort),
                21,
            ),
            "guarded replace target": (CATALOG_PRODUCTS, {"_id": "prod-0000042", "version": {"$lt": 5}}, None, 0),
        }
        print("\nexplain:")
        for label, (coll, filter_, sort, limit) in shapes.items():
            for backend, db in dbs.items():
                result = explain(db, coll, filter_, sort, limit)
                flags = {k: result.get(k) for k in ("filterPushdown", "sortPushdown", "limitPushdown")}
                print(f"- {label} [{backend}] {flags}\n    {plan_text(result)}")
    finally:
        if not args.keep:
            for k, client in clients.items():
                client.drop_database(f"{name}_{k}")
        for client in clients.values():
            client.close()


if __name__ == "__main__":
    main()
