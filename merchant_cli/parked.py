"""``merchant parked list|retry``: the aggregates parked on the way from the event store to
the read models (docs/operations.md, "Parked aggregates"):

- by the outbox relay, at a commit Kafka refuses (``parked_aggregates``);
- by a projector, at an event it cannot apply (``projector_parked``, per stream).

``retry`` unparks them and tries again here. Relay: one relay pass, each published (and
its later commits behind it, in order) or, still refused, parked again. Projector: the
aggregate's events replayed from the event store through the engine
(``projectors.application.unpark``), applied or, still failing, parked again. The output
says which; exit 1 if any is parked again.
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
        relay = [_row(p) for p in await side.parking.parked()]
    finally:
        await side.close()
    return relay + await projector_parked_now()


async def projector_parked_now() -> list[dict[str, object]]:
    from shared.settings import ProjectorSettings

    from projectors.application.parking import parkings
    from projectors.entrypoints.bootstrap import bootstrap, close

    side = await bootstrap(ProjectorSettings())
    try:
        return [_projector_row(doc) for doc in await parkings(side.store)]
    finally:
        await close(side)


async def retry(aggregate_ids: list[str], every: bool) -> dict[str, object]:
    from command_api.bootstrap import bootstrap

    side = bootstrap()
    try:
        await side.prepare()
        await side.resources.start()
        parked = [p.aggregate_id for p in await side.parking.parked()]
        chosen = parked if every else [a for a in aggregate_ids if a in parked]
        published = 0
        if chosen or every:
            await side.parking.unpark(chosen)
            published = await side.relay.run_once()
        still = {p.aggregate_id for p in await side.parking.parked()}
    finally:
        await side.close()
    projector = await retry_projector(aggregate_ids, every)
    retried_there = {r["aggregate_id"] for r in projector}
    return {
        "retried": chosen,
        "parked_again": [a for a in chosen if a in still],
        "not_parked": [a for a in aggregate_ids if a not in parked and a not in retried_there],
        "commits_published": published,
        "projector": projector,
    }


async def retry_projector(aggregate_ids: list[str], every: bool) -> list[dict[str, object]]:
    """Each projector parking of these aggregates (every one: ``every``) retried."""
    from shared.invalidation import publish
    from shared.settings import ProjectorSettings

    from projectors.application.parking import parkings
    from projectors.application.unpark import retry as retry_parked
    from projectors.entrypoints.bootstrap import bootstrap, close
    from projectors.entrypoints.streams import STREAMS

    streams = {s.name: s for s in STREAMS}
    side = await bootstrap(ProjectorSettings(), redis=True)
    try:
        results = []
        for doc in await parkings(side.store):
            if not every and doc["aggregate_id"] not in aggregate_ids:
                continue
            done = await retry_parked(side.store, side.history, streams[doc["stream"]], doc["aggregate_id"])
            if side.redis is not None and done.changes:
                await publish(side.redis, done.changes, prefix=side.settings.kafka_topic_prefix)
            again = done.parked_again
            results.append(
                {
                    "stream": doc["stream"],
                    "aggregate_id": doc["aggregate_id"],
                    "events_applied": done.applied,
                    "parked_again": again is not None,
                    "reason": again.reason if again else None,
                }
            )
        return results
    finally:
        await close(side)


def _row(p: object) -> dict[str, object]:
    from command_api.application.ports import Parked

    assert isinstance(p, Parked)
    return {
        "parked_by": "relay",
        "aggregate_id": p.aggregate_id,
        "merchant_id": p.merchant_id,
        "version": p.version,
        "commit_id": str(p.commit_id),
        "reason": p.reason,
        "parked_at": p.parked_at.isoformat(),
    }


def _projector_row(doc: dict[str, object]) -> dict[str, object]:
    parked_at = doc["parked_at"]
    return {
        "parked_by": f"projector {doc['stream']}",
        "aggregate_id": doc["aggregate_id"],
        "merchant_id": doc["merchant_id"],
        "version": doc["version"],
        "reason": doc["reason"],
        "parked_at": parked_at.isoformat() if hasattr(parked_at, "isoformat") else str(parked_at),
    }


@app.command("list")
def list_command(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """The parked aggregates: who parked each (relay or projector), where, and why."""
    rows = asyncio.run(parked_now())
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no parked aggregate")
    for row in rows:
        typer.echo(
            f"{row['aggregate_id']}  merchant {row['merchant_id']}  v{row['version']}  "
            f"{row['parked_by']}  {row['parked_at']}"
        )
        typer.echo(f"    {row['reason']}")


@app.command("retry")
def retry_command(
    aggregate_ids: list[str] = typer.Argument(None, help="Aggregate ids (see `merchant parked list`)."),
    every: bool = typer.Option(False, "--all", help="Every parked aggregate."),
) -> None:
    """Unpark and try again now (in version order); one still refused is parked again."""
    if not aggregate_ids and not every:
        raise typer.BadParameter("name aggregate ids, or --all")
    result = asyncio.run(retry(aggregate_ids or [], every))
    typer.echo(json.dumps(result, indent=2))
    if result["parked_again"] or any(r["parked_again"] for r in result["projector"]):  # type: ignore[attr-defined]
        raise typer.Exit(1)
