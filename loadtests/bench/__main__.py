"""``python -m loadtests.bench ...``: our hot paths beside their baselines, in one run
(docs/benchmarks.md). ``merchant bench ...`` runs exactly this, in a subprocess.

Run it from a source checkout with the servers of ``merchant infra env``; the run uses a
database and topics of its own and deletes them. SIGTERM (a timeout, CI) acts as Ctrl-C:
the run stops its processes and drops its namespace.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from loadtests.bench.main import GROUPS, Options, command_line, run


def at_least(low: float, kind: type = int):
    def parse(text: str):
        value = kind(text)
        if value < low:
            raise argparse.ArgumentTypeError(f"{text} is below the minimum {low:g}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m loadtests.bench",
        description="Our hot paths beside their baselines, in one run (docs/benchmarks.md).",
    )
    p.add_argument("--only", default=",".join(GROUPS), help=f"Comma-separated groups: {', '.join(GROUPS)}.")
    p.add_argument(
        "--repeat", type=at_least(1), default=5, help="Rounds; each runs every pair's baseline and ours (default 5)."
    )
    p.add_argument(
        "--seconds",
        type=at_least(0.1, float),
        default=3.0,
        help="Seconds per side and round, request pairs (default 3).",
    )
    p.add_argument(
        "--concurrency", type=at_least(1), default=16, help="Concurrent clients of the HTTP pairs (default 16)."
    )
    p.add_argument(
        "--products", type=at_least(1), default=500, help="Catalogue size for the query-side pairs (default 500)."
    )
    p.add_argument("--events", type=at_least(1), default=1000, help="Events per projector round (default 1000).")
    p.add_argument(
        "--catalogue",
        type=at_least(1),
        default=20_000,
        help="Products per merchant in the projector's big read models (default 20,000).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Write the section (and img/bench/*.png beside it) here, e.g. docs/benchmarks.md; "
        "without it the report is printed only.",
    )
    return p


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parser().parse_args(argv)
    options = Options(
        tuple(g.strip() for g in args.only.split(",") if g.strip()),
        args.repeat,
        args.seconds,
        args.concurrency,
        args.products,
        args.events,
        args.out,
        command_line(argv),
        args.catalogue,
    )
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        text, _ = asyncio.run(run(options))
    except ValueError as exc:
        parser().error(str(exc))
    print("\n" + text)


if __name__ == "__main__":
    main()
