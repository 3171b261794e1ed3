"""``merchant jobs``: queue health per job kind, and re-queueing dead letters.

Both run on the worker side as ``workers.entrypoints.bootstrap`` builds it (the same
clients and the same job publisher as a worker process), without its subscribers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from workers.adapters.ops import KindHealth
    from workers.application.jobs import JobKind

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("lag", "in_flight", "retries_waiting", "retries_total", "dead_letters", "dead_letters_total")


async def _status() -> dict[JobKind, KindHealth]:
    from workers.adapters.ops import queue_health
    from workers.entrypoints.bootstrap import bootstrap

    side = bootstrap()
    try:
        return await queue_health(side.settings, side.db)
    finally:
        await side.close()


async def _replay(kind: JobKind, limit: int | None) -> int:
    from workers.adapters.ops import replay_dlq
    from workers.entrypoints.bootstrap import bootstrap

    side = bootstrap()
    try:
        async with side.broker:  # connected to publish; no subscriber is started
            return await replay_dlq(side.settings, kind, side.publish, limit)
    finally:
        await side.close()


@app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Lag, in-flight jobs, retries and dead letters per job kind."""
    health = asyncio.run(_status())
    if as_json:
        typer.echo(json.dumps(health))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("kind", *COLUMNS)
    for kind, row in health.items():
        figures: Mapping[str, object] = row
        table.add_row(kind, *(str(figures[c]) for c in COLUMNS))
    Console().print(table)


@app.command("replay-dlq")
def replay(
    kind: str = typer.Argument(..., help="Job kind: email, sms, reports, analytics, audit, warmup."),
    limit: int | None = typer.Option(None, help="Re-queue at most this many."),
) -> None:
    """Re-queue the dead letters of KIND (each once; attempts start again at 1)."""
    from workers.application.jobs import KINDS

    known = next((k for k in KINDS if k == kind), None)
    if known is None:
        raise typer.BadParameter(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", param_hint="KIND")
    count = asyncio.run(_replay(known, limit))
    typer.echo(f"re-queued {count} dead letter(s) of {kind}")
