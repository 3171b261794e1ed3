"""What reading one aggregate type's commits costs, as a rebuild reads them, side by side on two servers.

    eval "$(merchant infra env)"
    python -m loadtests.commit_read_cost --namespace diag_full --type product
    python -m loadtests.commit_read_cost --namespace diag_full --type product --other mongodb://127.0.0.1:27018

Reads every commit of ``--type`` in the namespace's database (an existing seed, e.g. issue
15's ``python -m loadtests.projector_catchup ... --namespace diag_full --keep``) through
``projectors.adapters.commit_reads.read_commits`` with ``--readers`` (1: one keyset
reader; 2: slices read at once; 0: one sorted cursor), ``--rounds`` times per server,
alternating which goes first; prints each read's seconds, the medians, and the other
server's median over the first's. Read-only. To compare two FerretDB builds, run the other
binary beside ours on the same PostgreSQL, e.g. the build before a patch:
``<binary> -listen 127.0.0.1:27018 -handler postgresql -postgresql-url
"postgres://postgres@127.0.0.1:5433/postgres?plan_cache_mode=force_custom_plan"`` (with
``GOGC=400 GOMEMLIMIT=4GiB`` as ``merchant infra`` starts ours). Not a test: compare within
one run only, on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from pymongo import AsyncMongoClient

from shared.settings import ProjectorSettings

from projectors.adapters.commit_reads import read_commits


async def read_once(url: str, database: str, aggregate_type: str, readers: int) -> tuple[int, float]:
    client: AsyncMongoClient = AsyncMongoClient(url)
    try:
        began, commits = time.monotonic(), 0
        async with read_commits(client[database], aggregate_type, readers=readers) as stored:
            async for _ in stored:
                commits += 1
        return commits, time.monotonic() - began
    finally:
        await client.close()


async def run(args: argparse.Namespace) -> None:
    servers = {"ours": ProjectorSettings().mongodb_url} | ({"other": args.other} if args.other else {})
    seconds: dict[str, list[float]] = {name: [] for name in servers}
    for round_ in range(args.rounds):
        order = list(servers.items()) if round_ % 2 == 0 else list(reversed(servers.items()))
        for name, url in order:
            commits, took = await read_once(url, args.namespace, args.type, args.readers)
            seconds[name].append(took)
            print(
                f"{time.strftime('%H:%M:%S')} {name}: {commits:,} {args.type} commits in {took:.1f} s "
                f"(load {os.getloadavg()[0]:.2f})",
                flush=True,
            )
    medians = {name: statistics.median(values) for name, values in seconds.items()}
    for name, median in medians.items():
        print(f"{name}: median {median:.1f} s of {[round(s, 1) for s in seconds[name]]}")
    if args.other:
        print(f"other / ours: {medians['other'] / medians['ours']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespace", required=True, help="the database holding the commits (a seed's namespace)")
    parser.add_argument("--type", default="product", help="the aggregate type read")
    parser.add_argument("--readers", type=int, default=1, help="pages requested at once; 0: one sorted cursor")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--other", help="another server's URL, read alternately with ours")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
