"""Publication bookkeeping, old against new, side by side: what the store spends per commit.

    python -m loadtests.outbox_cost --batch 100 --rounds 6 --lone 200

Two arms on the same server, in alternating order round after round:

- **flag** (the adapter before the outbox): the commits inserted with ``published: false``
  (one ``insert_many``), then marked as the publisher did (one ``update_many`` by ``_id``);
- **outbox** (``command_api.adapters.event_store.EventStore``): ``append_batch`` — the
  outbox entries, then the commits — and ``mark_published`` (one ``delete_many``).

Per round and arm: the append's and the mark's milliseconds per commit for a group commit
of ``--batch`` commits (a stock change's commit shape, ``raw_insert.commit_template``), and
the CPU seconds of FerretDB and PostgreSQL per 1,000 commits (psutil, read-only, the
server processes found by name: ``ferretdb*`` and ``postgres``; a PostgreSQL backend that
exits mid-round loses its share, and other clients of the same servers count too — hence
the load average printed beside each round). Then ``--lone`` lone appends per arm, one
after the other: the extra round trip a command pays alone (the entry before the commit).

Each arm has its own database (same indexes as production), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

import psutil

from shared import mongo
from shared.events import EventEnvelope
from shared.settings import ServerSettings

from command_api.adapters.event_store import INDEXES, EventStore, insert_each
from command_api.adapters.outbox import LEGACY_INDEX
from command_api.application.ports import Commit
from loadtests.raw_insert import EVENT_BODIES


def commits(count: int) -> list[Commit]:
    aggregate_type, event_type, data = EVENT_BODIES["adjust stock"]
    made = []
    for _ in range(count):
        envelope = EventEnvelope(
            type=event_type,
            aggregate_type=aggregate_type,
            aggregate_id=str(uuid.uuid4()),
            aggregate_version=1,
            merchant_id="bench",
            correlation_id=uuid.uuid4().hex,
            data=data,
        )
        made.append(Commit(aggregate_type, envelope.aggregate_id, "bench", uuid.uuid4().hex, [envelope]))
    return made


class FlagArm:
    """The old adapter's two writes, as it issued them."""

    name = "flag"

    def __init__(self, db: mongo.Database) -> None:
        self.commits = db["commits"]

    async def prepare(self) -> None:
        await mongo.ensure_indexes(self.commits, [*INDEXES, LEGACY_INDEX])  # the old adapter had its relay's index

    async def append(self, batch: list[Commit]) -> None:
        refused = await insert_each(self.commits, [{**c.to_document(), "published": False} for c in batch])
        assert not refused, refused

    async def mark(self, batch: list[Commit]) -> None:
        await self.commits.update_many({"_id": {"$in": [c.id for c in batch]}}, {"$set": {"published": True}})


class OutboxArm:
    name = "outbox"

    def __init__(self, db: mongo.Database) -> None:
        self.store = EventStore(db)

    async def prepare(self) -> None:
        await self.store.create_indexes()

    async def append(self, batch: list[Commit]) -> None:
        results = await self.store.append_batch(batch)
        assert results == [None] * len(batch), results

    async def mark(self, batch: list[Commit]) -> None:
        await self.store.mark_published([c.id for c in batch])


Arm = FlagArm | OutboxArm


def server_cpu() -> float:
    """CPU seconds (user + system) of the FerretDB and PostgreSQL processes alive now."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        name = process.info["name"] or ""
        if (name.startswith("ferretdb") or name == "postgres") and process.info["cpu_times"] is not None:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


async def timed(step: Callable[[], Awaitable[None]]) -> float:
    began = time.perf_counter()
    await step()
    return time.perf_counter() - began


async def batch_round(arm: Arm, size: int, batches: int) -> dict[str, float]:
    append = mark = 0.0
    cpu = server_cpu()
    for _ in range(batches):
        batch = commits(size)
        append += await timed(lambda b=batch: arm.append(b))  # type: ignore[misc]
        mark += await timed(lambda b=batch: arm.mark(b))  # type: ignore[misc]
    n = size * batches
    return {
        "append": append * 1000 / n,
        "mark": mark * 1000 / n,
        "total": (append + mark) * 1000 / n,
        "cpu": (server_cpu() - cpu) * 1000 * 1000 / n,  # ms per 1,000 commits
    }


async def lone(arm: Arm, count: int) -> list[float]:
    times = []
    for _ in range(count):
        (commit,) = commits(1)
        times.append(await timed(lambda c=commit: arm.append([c])) * 1000)  # type: ignore[misc]
    return times


async def main(options: argparse.Namespace) -> None:
    url = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")
    client = mongo.open_mongo(ServerSettings(mongodb_url=url))
    names = {a: f"outboxcost_{a}_{uuid.uuid4().hex[:8]}" for a in ("flag", "outbox")}
    arms: list[Arm] = [FlagArm(client[names["flag"]]), OutboxArm(client[names["outbox"]])]
    try:
        for arm in arms:
            await arm.prepare()
            await batch_round(arm, options.batch, 1)  # warm-up: connections, plans
        rows: dict[str, list[dict[str, float]]] = {a.name: [] for a in arms}
        print(
            f"batches of {options.batch} commits, {options.batches} per round; "
            "store time in ms per commit, server CPU per 1,000 commits"
        )
        for r in range(options.rounds):
            for arm in arms if r % 2 == 0 else reversed(arms):
                row = await batch_round(arm, options.batch, options.batches)
                rows[arm.name].append(row)
                print(
                    f"round {r + 1} {arm.name:>6}: append {row['append']:.3f} + mark {row['mark']:.3f} "
                    f"= {row['total']:.3f} ms/commit; FerretDB+PostgreSQL CPU {row['cpu']:.0f} ms per 1,000 commits; "
                    f"load average {os.getloadavg()[0]:.2f}"
                )
        for name, measured in rows.items():
            med = {k: statistics.median(m[k] for m in measured) for k in ("append", "mark", "total", "cpu")}
            spread = f"{min(m['total'] for m in measured):.3f}–{max(m['total'] for m in measured):.3f}"
            print(
                f"{name:>6} median: append {med['append']:.3f} + mark {med['mark']:.3f} = {med['total']:.3f} "
                f"ms/commit (range {spread}); CPU {med['cpu']:.0f} ms per 1,000 commits"
            )
        if options.lone:
            alone: dict[str, list[float]] = {a.name: [] for a in arms}
            for r in range(2):
                for arm in arms if r % 2 == 0 else reversed(arms):
                    alone[arm.name] += await lone(arm, options.lone // 2)
            for name, times in alone.items():
                q = statistics.quantiles(times, n=20)
                print(
                    f"{name:>6} lone append: p50 {statistics.median(times):.2f} ms, p95 {q[18]:.2f} ms "
                    f"({len(times)} appends); load average {os.getloadavg()[0]:.2f}"
                )
    finally:
        for name in names.values():
            await client.drop_database(name)
        await client.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=100, help="commits per group commit")
    parser.add_argument("--batches", type=int, default=10, help="group commits per round and arm")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--lone", type=int, default=200, help="lone appends per arm (0: none)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
