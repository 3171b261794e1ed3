"""Where a one-line order's tail at 16 clients comes from: two code trees side by side.

Each round runs the command API of one tree in a process of its own (``running_app``: the
real bootstrap on the environment's servers, ``eval "$(merchant infra env)"``), in a
namespace of its own, with 64 stocked products and ``--clients`` closed-loop clients
sending keyed one-line orders for ``--seconds``; rounds go round the trees, so
both see the same machine. Per round it prints the latency distribution (p50/p95/p99/max)
and what the requests waited for besides the store:

- group-commit batches: how many, their members, the chains among them, how long a batch
  took (p50/p99), and the members refused (version conflicts, each a reload and a retry);
- the product locks: how many acquisitions waited, and for how long (p99, total);
- MongoDB operations by kind and collection, with their summed time (relay passes and the
  marks' deletes included: they run in the process);
- relay passes and their time.

    python -m loadtests.order_tail --tree before=/tmp/before-lone --tree lone=/tmp/main --tree this=. --rounds 6

A tree is put first on ``sys.path`` of its round's process. Not a benchmark: a shared
machine; only the ratios between trees in one run mean something. The load average is
printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

UNLIMITED = {
    "rate_limit_per_second": 1e6,
    "rate_limit_burst": 10**6,
    "rate_limit_orders_per_second": 1e6,
    "rate_limit_orders_burst": 10**6,
}
ADDRESS = {"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"}


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def instrument(stats: dict[str, Any]) -> None:
    """Wrap the group commit, the repository's locks, the relay and count MongoDB operations."""
    from pymongo import monitoring

    from command_api.adapters.group_commit import GroupCommit
    from command_api.application.relay import Relay
    from command_api.application.repository import Repository

    write = GroupCommit._write

    async def timed_write(self, items, futures):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        await write(self, items, futures)
        if self._name != "commits":
            return
        stats["batches"].append(
            {
                "members": len(items),
                "chains": sum(1 for i in items if len(getattr(i, "records", ())) > 1),
                "ms": (time.perf_counter() - began) * 1000,
                "refused": Counter(
                    type(f.exception()).__name__ for f in futures if f.done() and not f.cancelled() and f.exception()
                ),
            }
        )

    GroupCommit._write = timed_write  # type: ignore[method-assign]

    class TimedLock:
        def __init__(self, lock: asyncio.Lock) -> None:
            self.lock = lock

        async def __aenter__(self) -> None:
            began = time.perf_counter()
            await self.lock.acquire()
            stats["lock_waits"].append((time.perf_counter() - began) * 1000)

        async def __aexit__(self, *exc: object) -> None:
            self.lock.release()

    lock = Repository._lock
    Repository._lock = lambda self, aggregate_id: TimedLock(lock(self, aggregate_id))  # type: ignore[method-assign]

    run_once = Relay.run_once

    async def timed_pass(self):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return await run_once(self)
        finally:
            stats["relay"].append((time.perf_counter() - began) * 1000)

    Relay.run_once = timed_pass  # type: ignore[method-assign]

    class Listener(monitoring.CommandListener):
        def started(self, event: Any) -> None:
            pass

        def _count(self, event: Any) -> None:
            key = event.command_name
            stats["ops"][key] = stats["ops"].get(key, 0) + 1
            stats["op_ms"][key] = stats["op_ms"].get(key, 0.0) + event.duration_micros / 1000

        def succeeded(self, event: Any) -> None:
            self._count(event)

        def failed(self, event: Any) -> None:
            self._count(event)

    monitoring.register(Listener())


async def one_round(clients: int, seconds: float) -> dict[str, Any]:
    from loadtests.command_in_process import command_api

    stats: dict[str, Any] = {"batches": [], "lock_waits": [], "relay": [], "ops": {}, "op_ms": {}}
    instrument(stats)
    async with command_api("tail", UNLIMITED) as (client, merchant, _):
        return await orders(client, merchant, stats, clients, seconds)


async def orders(client: Any, merchant: Any, stats: dict[str, Any], clients: int, seconds: float) -> dict[str, Any]:
    sk = {"Authorization": f"Bearer {merchant.secret_key}"}
    products = []
    for _ in range(64):
        body = {"sku": uuid.uuid4().hex[:12], "name": "S", "category": "b", "stock": 1_000_000}
        body["price"] = {"amount": 500, "currency": "EUR"}
        response = await client.post("/v1/products", json=body, headers=sk)
        products.append(response.json()["id"])
    pk = {"Authorization": f"Bearer {merchant.publishable_key}"}

    async def order() -> int:
        body = {
            "items": [{"product_id": random.choice(products), "quantity": 1}],
            "customer": {"email": "t@example.com"},
            "shipping_address": ADDRESS,
        }
        response = await client.post("/v1/orders", json=body, headers={**pk, "Idempotency-Key": uuid.uuid4().hex})
        return response.status_code

    for _ in range(20):  # warm
        await order()
    await asyncio.sleep(0.5)
    for key in ("batches", "lock_waits", "relay"):
        stats[key].clear()
    stats["ops"].clear()
    stats["op_ms"].clear()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    end = time.monotonic() + seconds

    async def loop() -> None:
        while time.monotonic() < end:
            began = time.perf_counter()
            statuses[await order()] += 1
            latencies.append((time.perf_counter() - began) * 1000)

    began = time.monotonic()
    await asyncio.gather(*(loop() for _ in range(clients)))
    elapsed = time.monotonic() - began
    batches = stats["batches"]
    refused: Counter[str] = Counter()
    for b in batches:
        refused.update(b["refused"])
    return {
        "n": len(latencies),
        "rate": len(latencies) / elapsed,
        "statuses": dict(statuses),
        "p50": statistics.median(latencies),
        "p95": pct(latencies, 95),
        "p99": pct(latencies, 99),
        "max": max(latencies),
        "batches": len(batches),
        "members_mean": statistics.mean(b["members"] for b in batches) if batches else 0,
        "chain_batches": sum(1 for b in batches if b["chains"] and b["members"] > 1),
        "batch_ms_p50": pct([b["ms"] for b in batches], 50),
        "batch_ms_p99": pct([b["ms"] for b in batches], 99),
        "refused": dict(refused),
        "lock_waited": sum(1 for w in stats["lock_waits"] if w > 0.5),
        "lock_acquired": len(stats["lock_waits"]),
        "lock_wait_p99": pct(stats["lock_waits"], 99),
        "lock_wait_total_s": sum(stats["lock_waits"]) / 1000,
        "relay_passes": len(stats["relay"]),
        "relay_ms_total": sum(stats["relay"]),
        "ops": dict(stats["ops"]),
        "op_ms": {k: round(v) for k, v in stats["op_ms"].items()},
    }


def drive(trees: dict[str, str], rounds: int, clients: int, seconds: float) -> None:
    print(f"load average at start {os.getloadavg()}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    for number in range(rounds):
        order = list(trees.items())[number % len(trees) :] + list(trees.items())[: number % len(trees)]
        for name, tree in order:
            env = {**os.environ, "PYTHONPATH": os.path.abspath(tree)}
            args = [sys.executable, os.path.abspath(__file__), "--round", "--clients", str(clients)]
            out = subprocess.run(
                [*args, "--seconds", str(seconds)], env=env, cwd=tree, capture_output=True, text=True, check=False
            )
            if out.returncode:
                print(out.stderr[-3000:])
                raise SystemExit(f"{name}: the round failed")
            result = json.loads(out.stdout.strip().splitlines()[-1])
            results[name].append(result)
            print(f"round {number + 1} {name} (load {os.getloadavg()[0]:.2f}): {json.dumps(result)}", flush=True)
    print(f"\nload average at end {os.getloadavg()}")
    for name, rs in results.items():
        keys = ("rate", "p50", "p95", "p99", "max", "members_mean", "batch_ms_p50", "batch_ms_p99", "lock_wait_p99")
        medians = {k: round(statistics.median(r[k] for r in rs), 1) for k in keys}
        print(f"{name} medians of {len(rs)} rounds: {medians}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--round", action="store_true", help="(internal) run one round in this process")
    parser.add_argument("--tree", action="append", metavar="NAME=PATH", help="a code tree (repeat; default: . )")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if args.round:
        sys.path.insert(0, os.getcwd())
        print(json.dumps(asyncio.run(one_round(args.clients, args.seconds))))
        return
    trees = dict(t.split("=", 1) for t in args.tree or ["this=."])
    drive(trees, args.rounds, args.clients, args.seconds)


if __name__ == "__main__":
    main()
