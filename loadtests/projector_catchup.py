"""A seed projected from scratch by one projector process, timed; then rebuilt, timed, and
compared with what the projector built (issue 15's catch-up figures).

    python -m loadtests.projector_catchup --merchants 20 --products 100000 --orders 200000

In a database and topics of its own (deleted afterwards unless ``--keep``), on the servers
of ``merchant infra env``. ``--seeded NAMESPACE`` projects a seed kept by an earlier run
(``--keep``) again instead of writing a new one: the projector's collections there are
dropped first and a new consumer group reads the topics from the start, so one 1.3 M-event
seed (9 minutes to write) serves several catch-ups; that namespace is kept.

1. ``merchant seed`` writes the history through the write path (event store + Kafka);
2. one ``merchant serve projectors`` process starts on it with a fresh consumer group;
   timed from "started" until every stream's group has no lag: events/s of the catch-up,
   and the lag with its ETA every ``--report`` seconds, as ``merchant projections
   status`` shows it;
3. the projector is stopped and each stream is rebuilt from the event store into shadow
   collections (``projectors.entrypoints.rebuild``, what ``merchant projections rebuild
   <name> --no-swap`` runs): events/s;
4. every served read model the projector built is compared, document for document, with
   the rebuilt one (derived documents without ``version``/``sources``/``_rev``, which name
   their counters; the others without ``_rev``, the FerretDB writer's guard).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from shared import mongo
from shared.kafka import delete_topics_with_prefix
from shared.read_models import MERCHANT_NAMES
from shared.settings import ProjectorSettings

from merchant_testkit.processes import stream_service
from projectors.application.parking import PARKED
from projectors.entrypoints.app import COUNTERS
from projectors.entrypoints.rebuild import SHADOW_SUFFIX, drop_shadows, rebuild, shadow_names
from projectors.entrypoints.status import catch_up
from projectors.entrypoints.streams import STREAMS

ROOT = Path(__file__).resolve().parents[1]
IGNORED = ("version", "sources", "_rev")  # a derived document's counters, not its content


def seed(env: dict[str, str], args: argparse.Namespace, out: Path) -> float:
    command = [
        sys.executable,
        "-m",
        "merchant_cli.main",
        "seed",
        "--merchants",
        str(args.merchants),
        "--products",
        str(args.products),
        "--orders",
        str(args.orders),
        "--prefix",
        args.namespace,
        "--out",
        str(out),
    ]
    began = time.monotonic()
    subprocess.run(command, env={**os.environ, **env}, cwd=ROOT, check=True)
    return time.monotonic() - began


async def project(env: dict[str, str], settings: ProjectorSettings, report: float) -> tuple[int, float]:
    """One projector process from scratch until no stream's group is behind."""
    logs = Path(tempfile.mkdtemp(prefix="catchup_"))
    service = stream_service("projector", "projectors", {**env, "PROJECTOR_GROUP_ID": settings.group_id}, logs)
    total = sum({r.stream: r.events_behind for r in await catch_up(settings, 0.5)}.values())
    service.start()
    try:
        while "started successfully" not in service.log_path.read_text(errors="replace"):
            await asyncio.sleep(0.1)
        began = time.monotonic()
        print(f"  projector metrics: {service.ops_url}/metrics (log {service.log_path})", flush=True)
        while True:
            rows = {r.stream: r for r in await catch_up(settings, report)}
            behind = sum(r.events_behind for r in rows.values())
            line = ", ".join(
                f"{s} {r.events_behind:,} behind, {r.events_per_second:,.0f}/s, ETA {_eta(r.eta_seconds)}"
                for s, r in rows.items()
            )
            print(f"  {time.monotonic() - began:7.0f} s: {line}", flush=True)
            if behind == 0:
                return total, time.monotonic() - began
    finally:
        service.stop()


def _eta(seconds: float | None) -> str:
    return "—" if seconds is None else f"{seconds:,.0f} s"


def comparable(stream, model: str, doc: dict) -> dict:
    if any(d.view == model for d in stream.derivations):
        return {k: v for k, v in doc.items() if k not in IGNORED}
    return {k: v for k, v in doc.items() if k != "_rev"}  # the swap writer's guard (a rebuild's states)


async def rebuild_and_compare(db) -> tuple[int, float, list[str]]:
    events, seconds, differences = 0, 0.0, []
    for stream in STREAMS:
        result = await rebuild(db, stream.state, swap_in=False)
        events, seconds = events + result.events, seconds + result.seconds
        print(f"  rebuilt {stream.name}: {result.events:,} events in {result.seconds:.1f} s", flush=True)
        shadows = shadow_names(stream)
        try:
            for model in stream.served:
                live = {d["_id"]: comparable(stream, model, d) async for d in db[model].find()}
                clean = {d["_id"]: comparable(stream, model, d) async for d in db[shadows[model]].find()}
                differing = [k for k in live.keys() | clean.keys() if live.get(k) != clean.get(k)]
                if differing:
                    differences.append(
                        f"{model}: {len(differing)} of {len(clean)} differ, e.g. {sorted(differing)[:3]}"
                    )
        finally:
            await drop_shadows(db, stream.state)
    return events, seconds, differences


def projector_owned(db_names: list[str]) -> list[str]:
    """The collections a projector writes (read models, counters, parkings, names; a
    rebuild's shadows), not the write side's (event store, outbox, keys, seed runs)."""
    owned = {m for s in STREAMS for m in s.read_models} | {PARKED, MERCHANT_NAMES, COUNTERS}
    return [n for n in db_names if n in owned or n.endswith(SHADOW_SUFFIX)]


@asynccontextmanager
async def own_namespace(
    namespace: str, keep: bool, group: str | None = None
) -> AsyncIterator[tuple[ProjectorSettings, dict[str, str], Any]]:
    """Settings, the environment of the processes started, and the database of a namespace of
    its own (database, topic prefix and consumer group); dropped at the end unless ``keep``."""
    settings = ProjectorSettings(
        kafka_topic_prefix=f"{namespace}.", mongodb_database=namespace, group_id=group or namespace
    )
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "MONGODB_URL": settings.mongodb_url,
        "REDIS_URL": settings.redis_url,
        "KAFKA_TOPIC_PREFIX": settings.kafka_topic_prefix,
        "MONGODB_DATABASE": namespace,
    }
    client = mongo.open_mongo(settings)
    try:
        yield settings, env, mongo.database(client, settings)
    finally:
        if not keep:
            await delete_topics_with_prefix(settings)
            await client.drop_database(namespace)
        await client.close()


async def main(args: argparse.Namespace) -> int:
    # SIGTERM (kill, pkill) cancels the run, so its cleanup runs: the projector child is
    # stopped instead of left consuming into the next run's collections (it was, once).
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    namespace = args.seeded or args.namespace
    group = f"{namespace}.{uuid.uuid4().hex[:6]}" if args.seeded else namespace
    async with own_namespace(namespace, args.keep or bool(args.seeded), group) as (settings, env, db):
        if args.seeded:
            dropped = projector_owned(await db.list_collection_names())
            for name in dropped:
                await db.drop_collection(name)
            print(f"reusing the seed in {namespace}: dropped {len(dropped)} projector collection(s)", flush=True)
            seeded = 0.0
        else:
            print(f"seeding into {namespace} ...", flush=True)
            seeded = seed(env, args, Path(tempfile.mkdtemp()) / "seed.json")
        print(f"projecting with one process (group {settings.group_id}) ...", flush=True)
        events, seconds = await project(env, settings, args.report)
        print("rebuilding each stream from the event store ...", flush=True)
        rebuilt, rebuild_seconds, differences = await rebuild_and_compare(db)
        print(
            f"\nseed: {f'{seeded:.0f} s' if not args.seeded else 'reused (' + namespace + ')'}\n"
            f"catch-up, one projector process: {events:,} events in {seconds:.0f} s = "
            f"{events / seconds:,.0f} events/s\n"
            f"rebuild (the three streams): {rebuilt:,} events in {rebuild_seconds:.0f} s = "
            f"{rebuilt / rebuild_seconds:,.0f} events/s\n"
            f"read models equal to the rebuild: {'yes' if not differences else 'NO: ' + '; '.join(differences)}",
            flush=True,
        )
        return 1 if differences else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.projector_catchup", description=__doc__.splitlines()[0])
    p.add_argument("--merchants", type=int, default=20)
    p.add_argument("--products", type=int, default=10_000)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--report", type=float, default=10.0, help="Seconds between progress lines (the rate's window).")
    p.add_argument("--namespace", default=f"catchup_{uuid.uuid4().hex[:8]}", help="Database and topic prefix.")
    p.add_argument("--keep", action="store_true", help="Keep the database and topics (to inspect them).")
    p.add_argument(
        "--seeded",
        metavar="NAMESPACE",
        help="Project the seed kept (--keep) in this namespace again instead of seeding (it is kept).",
    )
    return p


if __name__ == "__main__":
    try:
        sys.exit(asyncio.run(main(parser().parse_args())))
    except asyncio.CancelledError:
        sys.exit(128 + signal.SIGTERM)  # stopped by SIGTERM, cleaned up
