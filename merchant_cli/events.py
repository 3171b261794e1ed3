"""``merchant events``: the domain event streams, for analysts.

- ``docs``    write (or ``--check``) the AsyncAPI catalogue and one JSON Schema per
              event type and version under ``docs/``; ``--serve`` shows them as a page;
- ``tail``    a live, readable view of the topics, filtered by type or merchant;
- ``export``  events from the event store to JSON Lines or Parquet, with a progress bar.

Heavy imports (pyarrow, aiokafka, faststream) happen inside the commands.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from shared.event_store_reader import ReadReport

app = typer.Typer(no_args_is_help=True)
console = Console()
errors = Console(stderr=True)


def parse_time(value: str | None) -> datetime | None:
    """ISO-8601 date or date-time; without a zone it is UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO-8601 date or date-time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@app.command("docs")
def docs_command(
    out: Path = typer.Option(Path("docs"), "--out", help="The docs folder to write into."),
    check: bool = typer.Option(False, "--check", help="Write nothing; fail if the files are stale."),
    serve: bool = typer.Option(False, "--serve", help="Serve the catalogue as a web page."),
    port: int = typer.Option(8090, "--port", help="Port for --serve."),
) -> None:
    """The event catalogue: docs/asyncapi.json and docs/events/<Type>.v<N>.json."""
    from shared.events.catalogue import published_files, stale_files

    if check:
        stale = stale_files(out)
        for path in stale:
            console.print(f"[red]stale[/] {path}", soft_wrap=True)
        if stale:
            console.print("Run `merchant events docs` and commit the result.")
            raise typer.Exit(1)
        console.print(f"[green]up to date[/] ({len(published_files(out))} files)")
        return
    if serve:
        import uvicorn

        from merchant_cli.event_tools.catalogue_site import create_app

        console.print(f"Event catalogue on http://127.0.0.1:{port}/")
        uvicorn.run(create_app(), host="127.0.0.1", port=port, log_level="warning")
        return
    files = published_files(out)
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    console.print(f"wrote {len(files)} files under {out}/")


@app.command("tail")
def tail_command(
    types: list[str] = typer.Option([], "--type", "-t", help="Only this event type (repeatable)."),
    merchant: str | None = typer.Option(None, "--merchant", "-m", help="Only this merchant's events."),
    from_beginning: bool = typer.Option(False, "--from-beginning", help="Replay the topics first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON envelope per line."),
    limit: int | None = typer.Option(None, "--limit", help="Stop after this many events."),
    idle_exit: float | None = typer.Option(None, "--idle-exit", help="Stop after this many idle seconds."),
) -> None:
    """Follow the domain topics live (Ctrl-C stops)."""
    from shared.events.schemas import HISTORY

    unknown = [t for t in types if t not in HISTORY]
    if unknown:
        raise typer.BadParameter(f"unknown event type(s): {', '.join(unknown)}", param_hint="--type")
    try:
        asyncio.run(tail(frozenset(types), merchant, from_beginning, as_json, limit, idle_exit))
    except KeyboardInterrupt:
        pass


async def tail(
    types: frozenset[str],
    merchant: str | None,
    from_beginning: bool,
    as_json: bool,
    limit: int | None,
    idle_exit: float | None,
) -> None:
    from shared.settings import ServerSettings

    from merchant_cli.event_tools.stream import EventFilter, follow, format_event

    wanted, shown = EventFilter(types, merchant), 0
    async for item in follow(ServerSettings(), from_beginning=from_beginning, idle_exit=idle_exit):
        if isinstance(item, str):  # kept off stdout in --json mode, which stays parseable
            (errors if as_json else console).print(f"[red]{item}[/]")
            continue
        if not wanted.accepts(item):
            continue
        if as_json:
            print(item.to_json().decode(), flush=True)
        else:
            console.print(format_event(item), soft_wrap=True)
        shown += 1
        if limit is not None and shown >= limit:
            return


@app.command("export")
def export_command(
    out: Path = typer.Option(..., "--out", "-o", help="The file to write."),
    fmt: str = typer.Option("parquet", "--format", "-f", help="jsonl or parquet."),
    since: str | None = typer.Option(None, "--since", help="Committed at or after (ISO-8601, UTC)."),
    until: str | None = typer.Option(None, "--until", help="Committed before (ISO-8601, UTC)."),
) -> None:
    """Export events from the event store, at their current schema version."""
    from merchant_cli.event_tools.export import FORMATS

    if fmt not in FORMATS:
        raise typer.BadParameter(f"expected one of {', '.join(FORMATS)}", param_hint="--format")
    counts, report = asyncio.run(export(out, fmt, parse_time(since), parse_time(until)))
    for event_type, count in sorted(counts.items()):
        console.print(f"  {event_type:<24} {count:>10,}")
    console.print(f"[green]{sum(counts.values()):,} events[/] from {report.commits:,} commits → {out}")
    if report.unreadable:
        console.print(f"[yellow]{len(report.unreadable)} unreadable event(s) left out[/], e.g. {report.unreadable[0]}")


async def export(
    out: Path, fmt: str, since: datetime | None, until: datetime | None
) -> tuple[Counter[str], ReadReport]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from shared import mongo
    from shared.event_store_reader import ReadReport, count_commits, read_events
    from shared.settings import ServerSettings

    from merchant_cli.event_tools.export import open_writer

    settings = ServerSettings()
    client = mongo.open_mongo(settings)
    report = ReadReport()
    try:
        db = mongo.database(client, settings)
        total = await count_commits(db, since, until)
        writer = open_writer(out, fmt)
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("commits", total=total)
            try:
                async for events in read_events(db, since, until, report):
                    writer.write(events)
                    progress.advance(task)
            finally:
                writer.close()
    finally:
        await client.close()
    return writer.counts, report
