"""``merchant load <scenario>``: the locust load scenarios (``loadtests/run.py``).

The harness lives in the repository's ``loadtests/`` (with locust, a test dependency), not
in the installed packages, so this command runs it from the checkout it was installed from
(an editable install: ``pip install -e '.[test]'``). All options after the scenario are
passed on; ``merchant load --help`` lists them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]


def load(ctx: typer.Context) -> None:
    if not (ROOT / "loadtests" / "run.py").exists():
        typer.echo("merchant load needs the source checkout (loadtests/ not found next to merchant_cli/).", err=True)
        raise typer.Exit(2)
    raise typer.Exit(subprocess.call([sys.executable, "-m", "loadtests.run", *ctx.args], cwd=ROOT))
