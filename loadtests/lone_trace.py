"""What a lone command waits for before its 202: every MongoDB operation, timed.

One client, one command at a time, against the command API run in this process (its real
bootstrap: MongoDB, Kafka; ``merchant_testkit.in_process``) in a namespace of its own on
the servers of the environment (``eval "$(merchant infra env)"``). A pymongo command
listener times every operation of the process; those that start and end inside a
request are its path. Per command kind it prints the median request time, the median
number of operations on the path, how many of them are *sequential* (an operation that
starts after the previous one ended adds a step; one that starts before it ended is
overlapped), and what each step is. It also times what is off the path: Kafka sends and
relay passes that fall inside a request (they should not), and a raw ``insert_one`` loop
of one client on the same server — the floor issue #14 compares a lone command with.

    python -m loadtests.lone_trace --commands 100

The namespace (database, topics) is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pymongo import monitoring

ADDRESS = {"name": "B", "line1": "1 Road", "city": "Town", "postal_code": "1", "country": "FR"}


@dataclass
class Op:
    name: str
    started: float
    ended: float = 0.0


@dataclass
class Recorder(monitoring.CommandListener):
    ops: dict[int, Op] = field(default_factory=dict)
    done: list[Op] = field(default_factory=list)

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        target = event.command.get(event.command_name)
        where = target if isinstance(target, str) else ""
        self.ops[event.request_id] = Op(f"{event.command_name} {where}".strip(), time.perf_counter())

    def _end(self, event: Any) -> None:
        op = self.ops.pop(event.request_id, None)
        if op is not None:
            op.ended = time.perf_counter()
            self.done.append(op)

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        self._end(event)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        self._end(event)


@dataclass
class Spans:
    """Off-path work timed by wrapping: Kafka sends and relay passes."""

    kafka: list[tuple[float, float]] = field(default_factory=list)
    relay: list[tuple[float, float]] = field(default_factory=list)


def steps(ops: list[Op]) -> list[list[Op]]:
    """The ops in sequential steps: an op that starts before the step's last end overlaps it."""
    chain: list[list[Op]] = []
    for op in sorted(ops, key=lambda o: o.started):
        if chain and op.started < max(o.ended for o in chain[-1]):
            chain[-1].append(op)
        else:
            chain.append([op])
    return chain


def wrap_spans(spans: Spans) -> None:
    from command_api.adapters.publisher import CommitPublisher
    from command_api.application.relay import Relay

    produce, run_once = CommitPublisher._produce, Relay.run_once

    async def timed_produce(self, commits):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return await produce(self, commits)
        finally:
            spans.kafka.append((began, time.perf_counter()))

    async def timed_pass(self):  # type: ignore[no-untyped-def]
        began = time.perf_counter()
        try:
            return await run_once(self)
        finally:
            spans.relay.append((began, time.perf_counter()))

    CommitPublisher._produce = timed_produce  # type: ignore[method-assign]
    Relay.run_once = timed_pass  # type: ignore[method-assign]


async def raw_insert_p50(db: Any, n: int) -> float:
    from loadtests.raw_insert import commit_template, insert_loop, prepared

    insert = insert_loop(await prepared(db["raw_lone_trace"]), commit_template("adjust stock"))
    times = []
    for _ in range(n):
        began = time.perf_counter()
        await insert()
        times.append(time.perf_counter() - began)
    return statistics.median(times) * 1000


async def main(commands: int) -> None:
    from loadtests.command_in_process import command_api

    recorder, spans = Recorder(), Spans()
    monitoring.register(recorder)
    wrap_spans(spans)
    async with command_api("trace") as (client, merchant, db):
        print(f"raw insert_one loop, 1 client: p50 {await raw_insert_p50(db, commands * 2):.2f} ms")
        await trace(client, merchant, recorder, spans, commands)
        print(f"raw insert_one loop, 1 client: p50 {await raw_insert_p50(db, commands * 2):.2f} ms")


async def trace(client: Any, merchant: Any, recorder: Recorder, spans: Spans, commands: int) -> None:
    sk = {"Authorization": f"Bearer {merchant.secret_key}"}
    pk = {"Authorization": f"Bearer {merchant.publishable_key}"}

    async def create() -> Any:
        body = {"sku": uuid.uuid4().hex[:16], "name": "T", "category": "t", "stock": 1_000_000}
        body["price"] = {"amount": 500, "currency": "EUR"}
        return await client.post("/v1/products", json=body, headers={**sk, "Idempotency-Key": uuid.uuid4().hex})

    products = []
    for _ in range(8):
        product = (await create()).json()["id"]
        await client.post(f"/v1/products/{product}/publish", headers=sk)
        products.append(product)

    async def stock() -> Any:
        body = {"delta": 1, "reason": "trace"}
        path = f"/v1/products/{products[len(recorder.done) % 8]}/stock"
        return await client.post(path, json=body, headers={**sk, "Idempotency-Key": uuid.uuid4().hex})

    async def order() -> Any:
        body = {
            "items": [{"product_id": products[len(recorder.done) % 8], "quantity": 1}],
            "customer": {"email": "t@example.com"},
            "shipping_address": ADDRESS,
        }
        return await client.post("/v1/orders", json=body, headers={**pk, "Idempotency-Key": uuid.uuid4().hex})

    for kind, send in (("create product", create), ("adjust stock", stock), ("place order (1 line)", order)):
        for _ in range(5):  # warm: connections, caches
            await send()
        await asyncio.sleep(0.5)
        totals, counts, seq_counts, shapes, off_path = [], [], [], Counter[str](), Counter[str]()
        step_times: dict[int, list[float]] = {}
        for _ in range(commands):
            await asyncio.sleep(0.25)  # the gathered mark (0.2 s) and any relay pass land between requests
            recorder.done.clear()
            began = time.perf_counter()
            response = await send()
            ended = time.perf_counter()
            assert response.status_code == 202, response.text
            on_path = [o for o in recorder.done if o.started >= began and o.ended <= ended]
            chain = steps(on_path)
            totals.append((ended - began) * 1000)
            counts.append(len(on_path))
            seq_counts.append(len(chain))
            shapes[" → ".join(" ‖ ".join(o.name for o in step) for step in chain)] += 1
            for i, step in enumerate(chain):
                step_times.setdefault(i, []).append((max(o.ended for o in step) - min(o.started for o in step)) * 1000)
            off_path["kafka produce"] += sum(1 for s, e in spans.kafka if began <= s < ended and e <= ended)
            off_path["relay pass"] += sum(1 for s, e in spans.relay if began <= s < ended and e <= ended)
        print(f"\n{kind}: {commands} keyed commands, one at a time")
        print(
            f"  request p50 {statistics.median(totals):.2f} ms; MongoDB ops on the path p50 {statistics.median(counts)}"
        )
        print(f"  sequential steps p50 {statistics.median(seq_counts)}")
        for shape, n in shapes.most_common(3):
            print(f"  {n:4d}× {shape}")
        for i, times in sorted(step_times.items()):
            print(f"  step {i + 1}: p50 {statistics.median(times):.2f} ms (in {len(times)} requests)")
        print(f"  finished inside a request (awaited or not): {dict(off_path)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commands", type=int, default=100)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}")
    asyncio.run(main(args.commands))
    print(f"load average {os.getloadavg()}")
