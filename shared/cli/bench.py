"""``merchant bench``: our hot paths beside their baselines, in one run (docs/benchmarks.md).

The harness lives in ``loadtests/bench`` of a source checkout (it drives the product from
outside, with test helpers); this command only parses the options and starts it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[2]
GROUP_NAMES = "cache, l2, miss, commands, projectors"


def bench(
    only: str = typer.Option(GROUP_NAMES.replace(" ", ""), help=f"Comma-separated groups: {GROUP_NAMES}."),
    repeat: int = typer.Option(5, min=1, help="Rounds; each runs every pair's baseline and ours."),
    seconds: float = typer.Option(3.0, min=0.1, help="Seconds per side and round (request pairs)."),
    concurrency: int = typer.Option(16, min=1, help="Concurrent clients of the HTTP pairs."),
    products: int = typer.Option(500, min=1, help="Catalogue size for the query-side pairs."),
    events: int = typer.Option(1000, min=1, help="Events per projector round."),
    out: Path | None = typer.Option(None, help="Write the section (and img/bench/*.png beside it) here, "
                                    "e.g. docs/benchmarks.md; without it the report is printed only."),
) -> None:
    if not (ROOT / "loadtests" / "bench").is_dir():
        raise typer.BadParameter("merchant bench runs from a source checkout (loadtests/ not found)")
    sys.path.insert(0, str(ROOT))  # loadtests/ and tests/support/ are not installed packages
    from loadtests.bench.main import Options, command_line, run

    options = Options(tuple(g.strip() for g in only.split(",") if g.strip()), repeat, seconds, concurrency,
                      products, events, out, command_line(sys.argv[sys.argv.index("bench") + 1:]
                                                          if "bench" in sys.argv else []))
    # SIGTERM (a timeout, CI) as Ctrl-C: the run stops its processes and drops its namespace.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        text, _ = asyncio.run(run(options))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo("\n" + text)


def main() -> None:
    typer.run(bench)
