"""``merchant seed``: realistic merchants, products and order histories, through the write
side's domain code, the event store and Kafka (docs/seeding.md). Projectors build the read
models from the events, as for any command."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from command_api.seeding.plan import SeedParams, Window


async def _seed(params: SeedParams, out: Path | None) -> dict[str, Any]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from shared import mongo
    from shared.settings import CommandApiSettings

    from command_api.seeding.writer import Seeder

    settings = CommandApiSettings()
    client = mongo.open_mongo(settings)
    seeder = Seeder(mongo.database(client, settings), settings, params, out)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("products+orders · {task.fields[events]:,} events · {task.fields[rate]:,.0f} events/s"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns) as bar:
            task = bar.add_task(f"seed {params.run_id}", total=params.products + params.orders, events=0, rate=0.0)
            began = time.perf_counter()

            def advance(window: Window) -> None:
                events = seeder.events_written
                bar.update(
                    task,
                    advance=window.products_created + window.orders_placed,
                    events=events,
                    rate=events / max(time.perf_counter() - began, 1e-9),
                )

            summary = await seeder.run(advance)
            bar.update(task, completed=params.products + params.orders)
        summary["seconds"] = round(time.perf_counter() - began, 1)
        summary["seconds_by_step"] = {k: round(v, 1) for k, v in seeder.seconds.items()}
        return summary
    finally:
        await client.close()


def seed(
    merchants: Annotated[int, typer.Option(min=1, help="Merchants to create.")] = 3,
    products: Annotated[int, typer.Option(min=0, help="Products, over all merchants (skewed: a few big ones).")] = 1000,
    orders: Annotated[int, typer.Option(min=0, help="Orders placed over the history.")] = 2000,
    seed_value: Annotated[int, typer.Option("--seed", help="Random seed: same seed and prefix, same data.")] = 42,
    prefix: Annotated[str, typer.Option(help="Names the run: merchant names, SKUs and ids derive from it.")] = "seed",
    months: Annotated[int, typer.Option(min=1, max=60, help="Months of order history, ending at --until.")] = 6,
    until: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="End of the history (UTC day; default today).")
    ] = None,
    batch: Annotated[int, typer.Option(min=100, help="Events per window (one insert and publish round).")] = 20_000,
    out: Annotated[Path | None, typer.Option(help="Write merchants, keys and product ids here (JSON).")] = Path(
        "seed.json"
    ),
) -> None:
    """Seed realistic data through the real write path: domain aggregates, event store, Kafka.

    Re-running the same --prefix and --seed is refused once finished, resumed if a run died."""
    from command_api.seeding.plan import SeedParams
    from command_api.seeding.writer import AlreadySeeded

    end = datetime.combine(until.date() if until else date.today(), datetime.min.time(), tzinfo=UTC)
    params = SeedParams(
        merchants=merchants,
        products=products,
        orders=orders,
        until=end,
        seed=seed_value,
        prefix=prefix,
        months=months,
        batch=batch,
    )
    try:
        summary = asyncio.run(_seed(params, out))
    except AlreadySeeded as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception:
        typer.echo(
            f"seed {params.run_id} stopped; run the same command again to resume it "
            "(what is stored is skipped, the rest written and published).",
            err=True,
        )
        raise
    totals = summary["totals"]
    typer.echo(
        f"seeded {totals['merchants']} merchants, {totals['products']} products, {totals['orders']} orders "
        f"({totals['events']:,} events) in {summary['seconds']} s"
        f" = {totals['events'] / max(summary['seconds'], 0.1):,.0f} events/s"
        + (f"; merchants and keys in {out}" if out else "")
    )
    typer.echo(f"time spent: {summary['seconds_by_step']} (the rest: simulating the history in process)")
