"""What the published-mark costs the store, beside the insert it follows.

    python -m loadtests.mark_cost --commits 100 --rounds 3

Inserts ``--commits`` documents of a stock change's commit shape (``raw_insert``) into a
collection with the indexes of ``commits``, then marks them published as the publisher
does (one ``update_many`` by ``_id``), and prints both times per round. Its own database,
left in place (``command_cpu`` says why: drop it when nothing queries it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid

from bson import ObjectId

from shared import mongo
from shared.settings import ServerSettings

from command_api.adapters.event_store import INDEXES
from command_api.adapters.outbox import LEGACY_INDEX
from loadtests.raw_insert import commit_template


async def main(options: argparse.Namespace) -> None:
    name = f"markcost_{uuid.uuid4().hex[:8]}"
    settings = ServerSettings(
        mongodb_url=os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017"), mongodb_database=name
    )
    client = mongo.open_mongo(settings)
    commits = mongo.database(client, settings)["commits"]
    await commits.create_indexes([*INDEXES, LEGACY_INDEX])  # the indexes of commits when it marked
    template = commit_template("adjust stock")
    for _ in range(options.rounds):
        docs = [
            {**template, "_id": ObjectId(), "aggregate_id": str(uuid.uuid4()), "command_id": uuid.uuid4().hex}
            for _ in range(options.commits)
        ]
        began = time.perf_counter()
        await commits.insert_many(docs, ordered=False)
        inserted = time.perf_counter() - began
        began = time.perf_counter()
        await commits.update_many({"_id": {"$in": [d["_id"] for d in docs]}}, {"$set": {"published": True}})
        marked = time.perf_counter() - began
        print(
            f"{options.commits} commits: insert_many {inserted * 1000:.0f} ms, their mark {marked * 1000:.0f} ms "
            f"({marked / inserted:.0f}x); load average {os.getloadavg()[0]:.2f}"
        )
    print(f"left database {name}")
    await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
