"""Two ways of rebuilding side by side, on one seed (issue 15): the in-memory rebuild as it
is (new) against the store-backed one (``--old store-backed``, the default) or against
itself reading the commits through one sorted cursor (``--old one-cursor``: ``readers=0``,
not the keyset pages of ``projectors.adapters.commit_reads``).

    python -m loadtests.rebuild_side_by_side --merchants 20 --products 25000 --orders 50000
    python -m loadtests.rebuild_side_by_side --namespace NS --no-seed --keep --old one-cursor --streams orders

In a database and topics of its own (deleted afterwards unless ``--keep``; ``--namespace``
with ``--no-seed`` reuses a kept seed), on the servers of ``merchant infra env``:

1. ``merchant seed`` writes the history (as ``loadtests.projector_catchup`` does);
2. each stream is rebuilt into its shadows (``--no-swap``) by both replays, alternating
   (old, new, then new, old, ... for ``--rounds``) so that a change of the machine's load
   falls on both; each run prints its events/s and the load average;
3. every shadow collection of the stream the old one built (its last run) is compared with
   the new one's, document for document, field for field (``version``, ``sources`` and
   ``_rev`` included).

Prints each mode's events/s over all its runs and the ratio; exits 1 if anything differs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

from loadtests.projector_catchup import own_namespace, seed
from projectors.entrypoints.rebuild import drop_shadows, rebuild, shadow_names
from projectors.entrypoints.streams import STREAMS

MODES = ("old", "new")
OLD = {"store-backed": {"in_memory": False}, "one-cursor": {"readers": 0}}  # -> rebuild's options


def aside(physical: str, mode: str) -> str:
    return f"{physical}__{mode}"


async def set_aside(db, stream, mode: str) -> None:
    """Keep what a run left under its mode's name (the next run drops the shadows first)."""
    admin = db.client.admin
    present = set(await db.list_collection_names())
    for physical in shadow_names(stream).values():
        await db.drop_collection(aside(physical, mode))
        if physical in present:
            await admin.command("renameCollection", f"{db.name}.{physical}", to=f"{db.name}.{aside(physical, mode)}")


async def drop_asides(db, stream) -> None:
    for physical in shadow_names(stream).values():
        for mode in MODES:
            await db.drop_collection(aside(physical, mode))


async def compare(db, stream) -> list[str]:
    """Every shadow collection the old replay left against the new one's, field for field."""
    differences = []
    for physical in shadow_names(stream).values():
        old = await db[aside(physical, "old")].find().sort("_id").to_list()
        new = await db[aside(physical, "new")].find().sort("_id").to_list()
        if [d["_id"] for d in old] != [d["_id"] for d in new]:
            differences.append(f"{physical}: {len(old)} old documents, {len(new)} new, not the same _ids")
            continue
        differing = [a["_id"] for a, b in zip(old, new, strict=True) if a != b]
        if differing:
            differences.append(f"{physical}: {len(differing)} of {len(old)} differ, e.g. {differing[:3]}")
    return differences


async def side_by_side(
    db, rounds: int, old: str = "store-backed", streams: tuple[str, ...] = ()
) -> tuple[dict[str, tuple[int, float]], list[str]]:
    options = {"old": OLD[old], "new": {}}
    totals = {mode: (0, 0.0) for mode in MODES}
    differences: list[str] = []
    for stream in (s for s in STREAMS if not streams or s.name in streams):
        try:
            for turn in range(rounds):
                for mode in ("old", "new") if turn % 2 == 0 else ("new", "old"):
                    result = await rebuild(db, stream.state, swap_in=False, **options[mode])
                    events, seconds = totals[mode]
                    totals[mode] = (events + result.events, seconds + result.seconds)
                    print(
                        f"  {stream.name:9} {mode}: {result.events:,} events in {result.seconds:.1f} s = "
                        f"{result.events_per_second:,.0f} events/s (load average {os.getloadavg()[0]:.2f})",
                        flush=True,
                    )
                    await set_aside(db, stream, mode)
            differences += await compare(db, stream)
        finally:
            await drop_shadows(db, stream.state)
            await drop_asides(db, stream)
    return totals, differences


async def main(args: argparse.Namespace) -> int:
    namespace = args.namespace
    async with own_namespace(namespace, args.keep) as (settings, env, db):
        if not args.no_seed:
            print(f"seeding into {namespace} ...", flush=True)
            seed(env, args, Path(tempfile.mkdtemp()) / "seed.json")
        began = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"rebuilding each stream, old and new alternating ({began}) ...", flush=True)
        totals, differences = await side_by_side(db, args.rounds, args.old, tuple(args.streams or ()))
        rates = {mode: events / seconds if seconds else 0.0 for mode, (events, seconds) in totals.items()}
        print(
            "\n"
            + "\n".join(
                f"{mode} rebuild: {events:,} events in {seconds:.0f} s = {rates[mode]:,.0f} events/s"
                for mode, (events, seconds) in totals.items()
            )
            + f"\nnew / old: {rates['new'] / rates['old']:.2f}x" * bool(rates["old"])
            + f"\nshadows equal field for field: {'yes' if not differences else 'NO: ' + '; '.join(differences)}",
            flush=True,
        )
        return 1 if differences else 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.rebuild_side_by_side", description=__doc__.splitlines()[0])
    p.add_argument("--merchants", type=int, default=20)
    p.add_argument("--products", type=int, default=25_000)
    p.add_argument("--orders", type=int, default=50_000)
    p.add_argument("--rounds", type=int, default=2, help="Runs of each replay per stream (alternating).")
    p.add_argument("--namespace", default=f"rebuild_{uuid.uuid4().hex[:8]}", help="Database and topic prefix.")
    p.add_argument("--no-seed", action="store_true", help="Use the seed already in --namespace.")
    p.add_argument(
        "--old", choices=sorted(OLD), default="store-backed", help="What the rebuild of now is compared with."
    )
    p.add_argument("--keep", action="store_true", help="Keep the database and topics (to inspect them).")
    p.add_argument(
        "--streams", nargs="+", choices=[s.name for s in STREAMS], help="Rebuild only these streams (default: all)."
    )
    return p


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parser().parse_args())))
