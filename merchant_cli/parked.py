"""``merchant parked list|retry``: the aggregates whose publication stopped at a commit
Kafka refuses (docs/operations.md, "Parked aggregates").

``retry`` unparks them and runs one relay pass here: each is published (and its later
commits behind it, in order) or, still refused, parked again — the output says which.
"""

from __future__ import annotations

import asyncio
import json

import typer

app = typer.Typer(no_args_is_help=True)


async def parked_now() -> list[dict[str, object]]:
    from command_api.bootstrap import bootstrap

    side = bootstrap()
    try:
        return [_row(p) for p in await side.parking.parked()]
    finally:
        await side.close()


async def retry(aggregate_ids: list[str], every: bool) -> dict[str, object]:
    from command_api.bootstrap import bootstrap

    side = bootstrap()
    try:
        await side.prepare()
        await side.resources.start()
        parked = [p.aggregate_id for p in await side.parking.parked()]
        chosen = parked if every else [a for a in aggregate_ids if a in parked]
        await side.parking.unpark(chosen)
        published = await side.relay.run_once()
        still = {p.aggregate_id for p in await side.parking.parked()}
        return {
            "retried": chosen,
            "parked_again": [a for a in chosen if a in still],
            "not_parked": [a for a in aggregate_ids if a not in parked],
            "commits_published": published,
        }
    finally:
        await side.close()


def _row(p: object) -> dict[str, object]:
    from command_api.application.ports import Parked

    assert isinstance(p, Parked)
    return {
        "aggregate_id": p.aggregate_id,
        "merchant_id": p.merchant_id,
        "version": p.version,
        "commit_id": str(p.commit_id),
        "reason": p.reason,
        "parked_at": p.parked_at.isoformat(),
    }


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """The parked aggregates: where each stopped, and why."""
    rows = asyncio.run(parked_now())
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no parked aggregate")
    for row in rows:
        typer.echo(f"{row['aggregate_id']}  merchant {row['merchant_id']}  v{row['version']}  {row['parked_at']}")
        typer.echo(f"    {row['reason']}")


@app.command("retry")
def retry_command(
    aggregate_ids: list[str] = typer.Argument(None, help="Aggregate ids (see `merchant parked list`)."),
    every: bool = typer.Option(False, "--all", help="Every parked aggregate."),
) -> None:
    """Unpark and publish now (in version order); one still refused is parked again."""
    if not aggregate_ids and not every:
        raise typer.BadParameter("name aggregate ids, or --all")
    result = asyncio.run(retry(aggregate_ids or [], every))
    typer.echo(json.dumps(result, indent=2))
    if result["parked_again"]:
        raise typer.Exit(1)
