"""What one accepted command costs FerretDB and PostgreSQL, statement by statement (issue #14).

    MONGODB_URL=mongodb://127.0.0.1:27019 MERCHANT_POSTGRESQL_PORT=5435 \\
        python -m loadtests.store_cost --commands 2000 --rounds 2

Meant for a **private** FerretDB on a private PostgreSQL with ``pg_stat_statements``
(docs/benchmarks.md, "What grew with the read models": the recipe), its pids given by
``--ferretdb-pid`` and ``--postgresql-pid`` (the postmaster; its backends are counted with
it). Kafka and Redis may be the shared ones (a namespace of its own).

One ``merchant serve command-api`` of this checkout on that FerretDB, a merchant and 64
stocked products. Each round runs, in an order alternating between rounds, ``--commands``
keyed commands of each kind (create product, adjust stock, place order) from ``--clients``
connections, and the same number of raw ``insert_one`` of the kind's commit document
(``loadtests.raw_insert``: same indexes as ``commits``) from as many tasks. Around each
stretch: ``pg_stat_statements`` reset, then read (after the commands' outbox is empty:
their publication's deletes count); CPU seconds of FerretDB, PostgreSQL and the API
(``loadtests.ops.cpu_seconds``); the API's MongoDB operations by name (its ``/metrics``).
Printed per accepted command (per insert for the raw loop): CPU ms of each, operations, and
the statements that took PostgreSQL's time (calls, ms and rows per command).

``--compare-legacy-index`` adds a second store, its stretches alternating with the first's,
that has the index the code before the outbox created on ``commits``
(``outbox.LEGACY_INDEX``; its raw collection too): today's store against one the old code
started on, side by side.

Not a benchmark: on a shared machine compare within a run only. The database is left in
place (drop it once nothing queries it: docs/benchmarks.md, "Careful on a shared FerretDB").
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shared import mongo
from shared.kafka import delete_topics_with_prefix, ensure_topics
from shared.settings import ServerSettings

from command_api.adapters.outbox import LEGACY_INDEX
from loadtests.bench.commands import requests, stocked_products
from loadtests.command_cpu import drive
from loadtests.ops import cpu_seconds, mongodb_operations
from loadtests.raw_insert import commit_template, insert_loop, prepared
from merchant_testkit.processes import http_service
from merchant_testkit.stack import NO_RATE_LIMITS

SERVER_ENV = ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "REDIS_URL", "SMTP_URL")
RAW = "raw insert_one"


def psql(sql: str) -> str:
    port = os.environ.get("MERCHANT_POSTGRESQL_PORT", "5435")
    command = [shutil.which("psql") or "psql", "-h", "127.0.0.1", "-p", port, "-U", "postgres", "-Atc", sql]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def reset_statements() -> None:
    psql("SELECT pg_stat_statements_reset()")


def statements() -> list[tuple[str, int, float, float, int]]:
    """(query, calls, exec ms, plan ms, rows) of every statement since the reset, dearest
    first; multi-row inserts of any size are one statement (``VALUES (×n)``)."""
    out = psql(
        "SELECT calls, total_exec_time, total_plan_time, rows, regexp_replace(query, '\\s+', ' ', 'g') "
        "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"
    )
    grouped: dict[str, list[float]] = {}
    for line in out.splitlines():
        calls, ms, plan, n, query = line.split("|", 4)
        query = re.sub(r"VALUES \(\$1\)(, \(\$\d+\))*", "VALUES (×n)", query)
        sums = grouped.setdefault(query, [0, 0.0, 0.0, 0])
        for i, v in enumerate((int(calls), float(ms), float(plan), int(n))):
            sums[i] += v
    rows = [(q, int(c), ms, plan, int(n)) for q, (c, ms, plan, n) in grouped.items()]
    return sorted(rows, key=lambda r: -(r[2] + r[3]))


def short(query: str, tables: dict[str, str]) -> str:
    """The query with FerretDB's table names replaced by their collections'."""
    query = re.sub(r'"(\w+)"\."(\w+)"', lambda m: tables.get(m.group(2), m.group(2)), query)
    return query[:150]


def table_names(namespace: str) -> dict[str, str]:
    """FerretDB's table name -> collection name, for the namespace's schema."""
    out = psql(f"SELECT _jsonb->>'table', _jsonb->>'_id' FROM \"{namespace}\"._ferretdb_database_metadata")
    return dict(line.split("|", 1) for line in out.splitlines() if "|" in line)


async def raw_inserts(collection, template, count: int, clients: int) -> int:
    insert, left = insert_loop(collection, template), count

    async def client() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await insert()

    await asyncio.gather(*(client() for _ in range(clients)))
    return count


@dataclass
class Arm:
    """A store of its own (namespace, merchant, command API, raw collection)."""

    name: str
    namespace: str
    legacy_index: bool
    settings: ServerSettings | None = None
    db: object = None
    api: object = None
    commands: dict = field(default_factory=dict)
    raw: object = None
    tables: dict[str, str] = field(default_factory=dict)
    summary: dict[str, list[float]] = field(default_factory=dict)

    async def start(self, client, env: dict[str, str], log_dir: Path) -> None:
        from command_api.bootstrap import bootstrap

        env = {**env, "MONGODB_DATABASE": self.namespace, "KAFKA_TOPIC_PREFIX": f"{self.namespace}."}
        self.settings = settings = ServerSettings(**{k.lower(): v for k, v in env.items()})
        self.db = mongo.database(client, settings)
        await ensure_topics(settings)
        if self.legacy_index:  # a store the code before the outbox started on
            await self.db["commits"].create_indexes([LEGACY_INDEX])
        side = bootstrap(db=self.db)
        await side.prepare()
        merchant = await side.merchants.create("Store Cost Shop")
        self.api = http_service(f"command-api-{self.name}", "command-api", {**env, **NO_RATE_LIMITS}, log_dir)
        self.api.args += ["--log-level", "warning"]
        self.api.start().wait_ready(90)
        products = await stocked_products(self.api.url, merchant.secret_key)
        self.commands = requests(merchant.secret_key, merchant.publishable_key, products)
        self.raw = await prepared(self.db["raw_commits"])
        if self.legacy_index:
            await self.raw.create_indexes([LEGACY_INDEX])
        self.tables = table_names(self.namespace)

    async def settled(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and await self.db["outbox"].find_one({}, {"_id": 1}):
            await asyncio.sleep(0.05)

    async def operations(self) -> Counter[str]:
        async with httpx.AsyncClient(timeout=10) as http:
            return mongodb_operations((await http.get(f"{self.api.ops_url}/metrics")).text)


async def stretch(arm: Arm, kind: str, is_raw: bool, pids: dict[str, int], options, report: bool) -> None:
    label = f"{RAW} ({kind})" if is_raw else kind
    await arm.settled()
    await asyncio.sleep(1.0)  # the last stretch's relay pass and deletes done
    reset_statements()
    pids = {**pids, "command API": arm.api.process.pid}
    ops_before, cpu_before = await arm.operations(), {n: cpu_seconds(p) for n, p in pids.items()}
    load = os.getloadavg()[0]
    began = time.monotonic()
    if is_raw:
        done = await raw_inserts(arm.raw, commit_template(kind), options.commands, options.clients)
    else:
        done = await drive(arm.api.url, arm.commands[kind], options.commands, options.clients)
        await arm.settled()
    wall = time.monotonic() - began
    cpu = {n: (cpu_seconds(p) - cpu_before[n]) * 1000 / done for n, p in pids.items()}
    ops = (await arm.operations()) - ops_before
    rows = statements()
    if not report:
        return
    total, planned = sum(r[2] for r in rows), sum(r[3] for r in rows)
    arm.summary.setdefault(label, []).append(cpu["FerretDB"] + cpu["PostgreSQL"])
    arm.summary.setdefault(f"{label}: PostgreSQL exec+plan", []).append((total + planned) / done)
    print(f"\n## {arm.name}: {label} — {done} in {wall:.1f} s, load average {load:.2f}")
    print("CPU ms per op: " + ", ".join(f"{n} {v:.3f}" for n, v in cpu.items()))
    if not is_raw:
        print("MongoDB ops per command: " + ", ".join(f"{n} {c / done:.3f}" for n, c in ops.most_common()))
    print(
        f"pg_stat_statements: {total / done:.3f} ms exec + {planned / done:.3f} ms plan per op; "
        "top statements (calls/op, exec ms/op, plan ms/op, rows/op):"
    )
    for query, calls, ms, plan, n in rows[: options.top]:
        print(f"  {calls / done:6.3f} {ms / done:7.4f} {plan / done:7.4f} {n / done:6.3f}  {short(query, arm.tables)}")


async def main(options: argparse.Namespace) -> None:
    run = uuid.uuid4().hex[:6]
    env = {k: v for k, v in os.environ.items() if k in SERVER_ENV}
    client = mongo.open_mongo(ServerSettings(**{k.lower(): v for k, v in env.items()}))
    log_dir = Path(tempfile.mkdtemp(prefix="store_cost_"))
    arms = [Arm("new store", f"storecost_{run}", legacy_index=False)]
    if options.compare_legacy_index:
        arms.append(Arm("legacy index", f"storecost_{run}_legacy", legacy_index=True))
    pids = {"FerretDB": options.ferretdb_pid, "PostgreSQL": options.postgresql_pid}
    try:
        for arm in arms:
            await arm.start(client, env, log_dir)
            print(f"{arm.name}: namespace {arm.namespace}, logs {log_dir}")
        kinds = [k for k in arms[0].commands if not options.only or any(o in k for o in options.only)]
        stretches = [*((kind, False) for kind in kinds), *((kind, True) for kind in kinds)]
        for number in range(options.rounds + 1):  # round 0 warms up, uncounted
            for kind, is_raw in stretches if number % 2 else list(reversed(stretches)):
                for arm in arms if number % 2 else list(reversed(arms)):
                    await stretch(arm, kind, is_raw, pids, options, report=number > 0)
        print(f"\nload average {os.getloadavg()}; FerretDB + PostgreSQL CPU ms per op, median [min–max]:")
        for label in arms[0].summary:
            for arm in arms:
                values = arm.summary[label]
                print(
                    f"  {arm.name:13} {label:52} {statistics.median(values):6.3f} [{min(values):.3f}–{max(values):.3f}]"
                )
    finally:
        for arm in arms:
            if arm.api is not None:
                arm.api.stop()
            if arm.settings is not None:
                with suppress(Exception):
                    await delete_topics_with_prefix(arm.settings)
            print(f"left database {arm.namespace}")
        await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ferretdb-pid", type=int, required=True)
    parser.add_argument("--postgresql-pid", type=int, required=True, help="The postmaster (backends counted with it).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--commands", type=int, default=2000, help="Per kind and round.")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--top", type=int, default=14, help="Statements shown per stretch.")
    parser.add_argument("--only", action="append", help="Kinds whose name holds this (repeatable).")
    parser.add_argument(
        "--compare-legacy-index",
        action="store_true",
        help="A second store, alternating with the first, that has the old format's index on commits "
        "(and its raw collection): a store the code before the outbox started on.",
    )
    asyncio.run(main(parser.parse_args()))
