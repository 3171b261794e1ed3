"""``merchant bench``: our hot paths beside their baselines, in one run (docs/benchmarks.md).

The harness lives in ``loadtests/bench`` of a source checkout (it drives the product from
outside, with test helpers) and has its own entry point, ``python -m loadtests.bench``.
This command runs it in a subprocess with the same arguments (``merchant bench --help``
shows the harness's options), the checkout on ``PYTHONPATH`` and the caller's working
directory, so a relative ``--out`` means what it meant. SIGTERM is passed on: the run
still stops its processes and drops its namespace.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]


def bench(ctx: typer.Context) -> None:
    if not (ROOT / "loadtests" / "bench").is_dir():
        typer.echo("merchant bench runs from a source checkout (loadtests/ not found next to merchant_cli/).", err=True)
        raise typer.Exit(2)
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    child = subprocess.Popen(
        [sys.executable, "-m", "loadtests.bench", *ctx.args], env={**os.environ, "PYTHONPATH": path}
    )
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signum))
    try:
        raise typer.Exit(_wait(child))
    finally:
        signal.signal(signal.SIGTERM, previous)


def _wait(child: subprocess.Popen[bytes]) -> int:
    while True:
        try:
            return child.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the child too: wait for its clean-up
            pass
