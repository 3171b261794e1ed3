"""``merchant jobs``: queue health per job kind, and re-queueing dead letters."""

from __future__ import annotations

import asyncio
import json

import typer

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("lag", "in_flight", "retries_waiting", "retries_total", "dead_letters", "dead_letters_total")


async def _status() -> dict:
    from shared import mongo
    from shared.settings import WorkerSettings

    from workers.adapters.ops import queue_health

    settings = WorkerSettings()
    client = mongo.open_mongo(settings)
    try:
        return await queue_health(settings, mongo.database(client, settings))
    finally:
        await client.close()


async def _replay(kind: str, limit: int | None) -> int:
    from shared.kafka import reliable_producer
    from shared.settings import WorkerSettings

    from workers.adapters.ops import replay_dlq

    settings = WorkerSettings()
    producer = reliable_producer(settings)
    await producer.start()
    try:

        async def publish(topic, job) -> None:
            await producer.send_and_wait(
                topic, job.to_json(), key=job.key.encode(), headers=[(k, v.encode()) for k, v in job.headers().items()]
            )

        return await replay_dlq(settings, kind, publish, limit)
    finally:
        await producer.stop()


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
        table.add_row(kind, *(str(row[c]) for c in COLUMNS))
    Console().print(table)


@app.command("replay-dlq")
def replay(
    kind: str = typer.Argument(..., help="Job kind: email, sms, reports, analytics, audit, warmup."),
    limit: int | None = typer.Option(None, help="Re-queue at most this many."),
) -> None:
    """Re-queue the dead letters of KIND (each once; attempts start again at 1)."""
    from workers.application.jobs import KINDS

    if kind not in KINDS:
        raise typer.BadParameter(f"unknown kind {kind!r}; one of {', '.join(KINDS)}", param_hint="KIND")
    count = asyncio.run(_replay(kind, limit))
    typer.echo(f"re-queued {count} dead letter(s) of {kind}")
