"""The 100,000-event export run: seed a store, export to Parquet, count with DuckDB.

    .venv/bin/python -m loadtests.export_events [--events 100000] [--rounds 1]

Uses the servers of ``merchant infra env`` and a database of its own (dropped at the
end). Prints the time of each step — the export beside a bare cursor over the same
documents (the baseline: what the database alone costs) — and whether DuckDB's counts
per type equal the event store's (server-side ``$unwind``/``$group``); exits 1 if not.
The export is ``merchant events export`` run as the command analysts run (a subprocess:
nothing outside the CLI imports it), so its time includes the process start.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from shared import mongo
from shared.settings import ServerSettings

from merchant_testkit.history import write_history


async def store_counts(db) -> dict[str, int]:
    pipeline = [{"$unwind": "$events"}, {"$group": {"_id": "$events.type", "n": {"$sum": 1}}}]
    return {row["_id"]: row["n"] async for row in await db["commits"].aggregate(pipeline)}


async def bare_scan(db) -> int:
    """What reading the same documents costs with no decoding, upcasting or writing."""
    scanned = 0
    async for doc in db["commits"].find({}, {"events": 1}).sort("_id", 1).batch_size(1000):
        scanned += len(doc["events"])
    return scanned


async def export(out: Path) -> None:
    """``merchant events export --format parquet`` on the database of ``MONGODB_DATABASE``."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "merchant_cli.main",
        "events",
        "export",
        "--format",
        "parquet",
        "--out",
        str(out),
        stdout=subprocess.DEVNULL,
    )
    if await process.wait() != 0:
        raise RuntimeError(f"merchant events export exited with {process.returncode}")


async def timed(work) -> float:
    began = time.perf_counter()
    await work
    return time.perf_counter() - began


async def run(total: int, rounds: int) -> int:
    settings = ServerSettings()
    database = f"export_run_{uuid.uuid4().hex[:8]}"
    client = mongo.open_mongo(settings)
    db = client[database]
    try:
        began = time.perf_counter()
        await write_history(db, total, merchant_id="m-export-run", start=datetime(2026, 1, 1, tzinfo=UTC))
        print(f"seeded {total:,} events in {time.perf_counter() - began:.1f} s", flush=True)
        out = Path(tempfile.mkdtemp()) / "events.parquet"
        os.environ["MONGODB_DATABASE"] = database  # what `merchant events export` reads
        bare_times, export_times = [], []
        for _ in range(rounds):  # interleaved, so both see the same server load
            bare_times.append(await timed(bare_scan(db)))
            export_times.append(await timed(export(out)))
        bare, exported = statistics.median(bare_times), statistics.median(export_times)
        print(f"baseline, bare cursor over the commits: median {bare:.1f} s ({total / bare:,.0f} events/s)")
        print(
            f"export to Parquet:                      median {exported:.1f} s ({total / exported:,.0f} "
            f"events/s), {out.stat().st_size / 1e6:.1f} MB"
        )
        print(f"export / bare cursor: {exported / bare:.2f}  ({rounds} round(s) each)", flush=True)
        began = time.perf_counter()
        counted = dict(duckdb.sql(f"SELECT type, count(*) FROM '{out}' GROUP BY type").fetchall())
        print(f"DuckDB counted in {time.perf_counter() - began:.2f} s", flush=True)
        began = time.perf_counter()
        stored = await store_counts(db)
        print(f"store counted in {time.perf_counter() - began:.1f} s", flush=True)
        print(f"{'type':<24}{'store':>10}{'duckdb':>10}")
        for event_type in sorted(stored.keys() | counted.keys()):
            print(f"{event_type:<24}{stored.get(event_type, 0):>10,}{counted.get(event_type, 0):>10,}")
        same = stored == counted and sum(counted.values()) == total
        print("counts per type: " + ("IDENTICAL" if same else "DIFFERENT"))
        return 0 if same else 1
    finally:
        await client.drop_database(database)
        await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    sys.exit(asyncio.run(run(args.events, args.rounds)))


if __name__ == "__main__":
    main()
