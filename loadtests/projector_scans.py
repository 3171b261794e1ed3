"""A projector's catch-up as the read models grow, with what PostgreSQL read for it: FerretDB
on PostgreSQL only (issue 15: find what grows with the read models' size).

    python -m loadtests.projector_scans --products 10000 --orders 20000
    python -m loadtests.projector_scans --namespace grow3 --no-seed   # again, on that seed

On the servers of ``merchant infra env`` (``MONGODB_URL``, and PostgreSQL at
``MERCHANT_POSTGRESQL_PORT``, 5433 by default):

1. unless ``--no-seed``, ``merchant seed`` writes a history into ``--namespace`` (database
   and topic prefix); it is kept, so later runs (another FerretDB build, another setting)
   replay the same events;
2. the namespace's read models are dropped (the event store stays) and one ``merchant
   serve projectors`` process catches up from offset 0 in a consumer group of its own;
3. every ``--interval`` seconds it prints the events/s of that interval and, from
   ``pg_stat_user_tables`` of the namespace's schema, the sequential scans, the rows they
   read (per event, too) and the index scans, with the tables that read most. A rate that
   falls while the rows read per event grow is a statement that scans a growing table.
   With ``pg_stat_statements`` loaded in the cluster (a private one: it needs a restart) the
   statements that took longest are printed at the end.

Reads PostgreSQL through ``psql``. The namespace is left in place: drop it with
``--drop`` at the end of the last run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from shared import mongo
from shared.kafka import delete_topics_with_prefix
from shared.settings import ProjectorSettings

from infra.servers import postgresql
from merchant_testkit.processes import stream_service
from projectors.entrypoints.status import lag

ROOT = Path(__file__).resolve().parents[1]
EVENT_STORE = {"commits", "api_keys", "seed_runs", "product_skus"}  # what the seed writes


def psql(sql: str) -> str:
    host, port = postgresql.address.rsplit(":", 1)
    command = [shutil.which("psql") or "psql", "-h", host, "-p", port, "-U", postgresql.SUPERUSER, "-Atc", sql]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout


def table_stats(schema: str) -> dict[str, tuple[int, int, int]]:
    """Collection -> (seq_scan, seq_tup_read, idx_scan) of its table."""
    out = psql(
        "select m._jsonb->>'_id', s.seq_scan, s.seq_tup_read, coalesce(s.idx_scan, 0) "
        f'from "{schema}"._ferretdb_database_metadata m join pg_stat_user_tables s '
        f"on s.schemaname = '{schema}' and s.relname = m._jsonb->>'table'"
    )
    stats = {}
    for line in out.splitlines():
        name, seq, rows, idx = line.split("|")
        stats[name] = (int(seq), int(rows), int(idx))
    return stats


def top_statements(limit: int = 15) -> str:
    try:
        return psql(
            "select calls, round(total_exec_time)::int, rows, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) "
            f"from pg_stat_statements order by total_exec_time desc limit {limit}"
        )
    except subprocess.CalledProcessError:
        return "(pg_stat_statements is not loaded in this cluster)\n"


def seed(env: dict[str, str], args: argparse.Namespace) -> None:
    out = Path(tempfile.mkdtemp()) / "seed.json"
    command = [sys.executable, "-m", "merchant_cli.main", "seed", "--merchants", str(args.merchants)]
    command += ["--products", str(args.products), "--orders", str(args.orders), "--prefix", args.namespace]
    subprocess.run([*command, "--out", str(out)], env={**os.environ, **env}, cwd=ROOT, check=True)


async def watch(ns: str, settings: ProjectorSettings, env: dict[str, str], interval: float) -> None:
    service = stream_service("projector", "projectors", env, Path(tempfile.mkdtemp(prefix="projector_scans_")))
    total = sum({r.stream: r.events_behind for r in await lag(settings)}.values())
    print(f"{total:,} events behind; projector log {service.log_path}", flush=True)
    try:
        psql("select pg_stat_statements_reset()")
    except subprocess.CalledProcessError:
        pass
    service.start()
    try:
        while "started successfully" not in service.log_path.read_text(errors="replace"):
            if service.process.poll() is not None:
                raise RuntimeError(f"the projector exited:\n{service.tail()}")
            await asyncio.sleep(0.1)
        began = time.monotonic()
        before, behind_before, at = table_stats(ns), total, began
        print("    s  events/s  seq scans  rows seq-read  per event  index scans  most rows read by", flush=True)
        while True:
            await asyncio.sleep(interval)
            now, stats = time.monotonic(), table_stats(ns)
            behind = sum({r.stream: r.events_behind for r in await lag(settings)}.values())
            moved = {
                k: tuple(a - b for a, b in zip(v, before.get(k, (0, 0, 0)), strict=True)) for k, v in stats.items()
            }
            seq, rows, idx = (sum(v[i] for v in moved.values()) for i in range(3))
            done = behind_before - behind
            worst = sorted(((v[1], k) for k, v in moved.items() if v[1]), reverse=True)[:2]
            per_event = f"{rows / done:9.1f}" if done else "        —"
            print(
                f"{now - began:5.0f} {done / (now - at):9,.0f} {seq:10,} {rows:14,} {per_event} {idx:12,}  "
                + ", ".join(f"{k} {r:,}" for r, k in worst),
                flush=True,
            )
            before, behind_before, at = stats, behind, now
            if behind == 0:
                break
        seconds = time.monotonic() - began
        print(f"caught up: {total:,} events in {seconds:.0f} s = {total / seconds:,.0f} events/s", flush=True)
        print("calls|ms|rows|statement (longest first)\n" + top_statements(), flush=True)
    finally:
        service.stop()


async def main(args: argparse.Namespace) -> int:
    ns = args.namespace
    group = f"{ns}_{uuid.uuid4().hex[:6]}"
    settings = ProjectorSettings(kafka_topic_prefix=f"{ns}.", mongodb_database=ns, group_id=group)
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url,
        "REDIS_URL": settings.redis_url,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "MONGODB_DATABASE": ns,
        "PROJECTOR_GROUP_ID": group,
    }
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    try:
        if args.seed:
            print(f"seeding into {ns} ...", flush=True)
            seed(env, args)
        for name in await db.list_collection_names():
            if name not in EVENT_STORE:
                await db.drop_collection(name)
        await watch(ns, settings, env, args.interval)
        return 0
    finally:
        if args.drop:
            await delete_topics_with_prefix(settings)
            await client.drop_database(ns)
        await client.close()


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.projector_scans", description=__doc__.splitlines()[0])
    p.add_argument("--merchants", type=int, default=20)
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--interval", type=float, default=10.0, help="Seconds between lines.")
    # FerretDB lists a schema named like pg?... as PostgreSQL's own (LIKE 'pg_%'): not "pg".
    p.add_argument("--namespace", default=f"scans_{uuid.uuid4().hex[:8]}", help="Database and topic prefix.")
    p.add_argument("--no-seed", dest="seed", action="store_false", help="Replay the namespace's seed again.")
    p.add_argument("--drop", action="store_true", help="Drop the namespace (database, topics) at the end.")
    return p


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parser().parse_args())))
