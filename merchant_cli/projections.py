"""``merchant projections``: rebuild a read model from the event store; show lag."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True)

NAMES = ("catalog_products", "merchant_products", "orders", "merchant_stats", "categories", "merchant_names")


async def _rebuild(name: str, swap_in: bool) -> None:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from shared import mongo
    from shared.settings import ProjectorSettings

    from projectors.entrypoints.rebuild import rebuild, total_commits

    settings = ProjectorSettings()
    client = mongo.open_mongo(settings)
    db = mongo.database(client, settings)
    try:
        total = await total_commits(db, name)
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

            result = await rebuild(db, name, progress=advance, swap_in=swap_in)
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
        await client.close()


@app.command()
def rebuild(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(NAMES)}.")],
    swap: Annotated[bool, typer.Option(help="Swap the rebuilt collection in (else keep the shadow).")] = True,
) -> None:
    """Replay the event store into a shadow collection, index it, swap it in atomically."""
    if name not in NAMES:
        raise typer.BadParameter(f"unknown read model {name!r}; one of: {', '.join(NAMES)}")
    asyncio.run(_rebuild(name, swap))


@app.command()
def status() -> None:
    """Per projection: events behind and seconds behind (consumer-group lag)."""
    from rich.console import Console
    from rich.table import Table

    from projectors.entrypoints.status import lag

    table = Table("projection", "stream", "events behind", "seconds behind")
    for row in asyncio.run(lag()):
        table.add_row(row.projection, row.stream, str(row.events_behind), f"{row.seconds_behind:.1f}")
    Console().print(table)
