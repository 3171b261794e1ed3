"""``merchant projections``: rebuild a read model from the event store; show lag and ETA."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)


def _names() -> tuple[str, ...]:
    from shared.read_models import MERCHANT_NAMES

    from projectors.entrypoints.streams import STREAMS

    return (*(m for s in STREAMS for m in s.served if m != MERCHANT_NAMES), MERCHANT_NAMES)


async def _rebuild(name: str, swap_in: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from shared.settings import ProjectorSettings

    from projectors.entrypoints.bootstrap import bootstrap, close
    from projectors.entrypoints.rebuild import ProjectorsRunning, ensure_idle, rebuild, total_commits

    settings = ProjectorSettings()
    if swap_in:
        try:
            await ensure_idle(settings, name)
        except ProjectorsRunning as exc:
            typer.echo(f"refused: {exc}", err=True)
            raise typer.Exit(1) from None
    side = await bootstrap(settings)
    try:
        total = await total_commits(side.db, name)  # None: too slow to count; the bar shows no total
        events = {"n": 0}
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("commits · {task.fields[rate]:,.0f} events/s"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
        )
        with Progress(*columns) as bar:
            task = bar.add_task(f"rebuild {name}", total=total, rate=0.0)
            began = asyncio.get_running_loop().time()

            def advance(n_events: int, n_commits: int) -> None:
                events["n"] += n_events
                elapsed = asyncio.get_running_loop().time() - began
                bar.update(task, advance=n_commits, rate=events["n"] / elapsed if elapsed else 0.0)

            result = await rebuild(side.db, name, progress=advance, swap_in=swap_in)
        swap = (
            "atomic renameCollection"
            if result.atomic_swap
            else "two-step rename (server has no dropTarget)"
            if result.swapped
            else "not swapped"
        )
        typer.echo(
            f"{name}: {result.events} events in {result.seconds:.1f} s "
            f"({result.events_per_second:,.0f} events/s), {swap}"
        )
    finally:
        await close(side)


@app.command()
def rebuild(
    name: Annotated[str, typer.Argument(help="A read model, e.g. orders, merchant_stats, categories.")],
    swap: Annotated[bool, typer.Option(help="Swap the rebuilt collections in (else keep the shadows).")] = True,
) -> None:
    """Replay the event store into shadow collections, index them, swap them in.

    Every read model of the feeding stream is rebuilt and swapped together. Swapping
    products or orders (they feed derived views) needs their projectors stopped."""
    names = _names()
    if name not in names:
        raise typer.BadParameter(f"unknown read model {name!r}; one of: {', '.join(names)}")
    asyncio.run(_rebuild(name, swap))


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not consuming"
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"


@app.command()
def status(
    sample: Annotated[
        float, typer.Option(min=0.5, help="Seconds between the two offset samples the rate is measured over.")
    ] = 2.0,
) -> None:
    """Per projection: events and seconds behind, the rate it consumes at, and the time left."""
    from rich.console import Console
    from rich.table import Table

    from projectors.entrypoints.status import catch_up

    table = Table("projection", "stream", "events behind", "seconds behind", "events/s", "caught up in")
    for row in asyncio.run(catch_up(sample_seconds=sample)):
        table.add_row(
            row.projection,
            row.stream,
            str(row.events_behind),
            f"{row.seconds_behind:.1f}",
            f"{row.events_per_second:,.0f}",
            _duration(row.eta_seconds),
        )
    Console().print(table)
