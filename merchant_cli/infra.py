"""``merchant infra``: install, start, stop and inspect the local servers.

The work is done by :mod:`infra.manager`; this module only parses options and prints.
It is imported by every ``merchant`` command, so heavy imports stay inside the commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from shared.read_model_indexes import IndexReport

    from infra.manager import ServerStatus

app = typer.Typer(no_args_is_help=True)


class Server(StrEnum):
    kafka = "kafka"
    postgresql = "postgresql"
    ferretdb = "ferretdb"
    redis = "redis"
    smtp = "smtp"


Only = Annotated[list[Server] | None, typer.Option("--only", help="Only this server (repeatable).")]


def _console() -> Console:
    from rich.console import Console

    return Console()


def _names(only: list[Server] | None) -> list[str] | None:
    return [s.value for s in only] if only else None


def _progress(console: Console) -> Callable[[str, str], None]:
    began = time.monotonic()

    def report(name: str, message: str) -> None:
        console.print(f"[dim]{time.monotonic() - began:6.1f} s[/] [bold]{name:<10}[/] {message}")

    return report


def _table(console: Console, statuses: list[ServerStatus]) -> None:
    from rich.table import Table

    colour = {"running": "green", "external": "cyan", "stopped": "dim", "failed": "red"}
    table = Table("server", "state", "healthy", "address", "pid", "detail")
    for s in statuses:
        table.add_row(
            s.name,
            f"[{colour.get(s.state, 'white')}]{s.state}[/]",
            "[green]yes[/]" if s.healthy else "[red]no[/]",
            s.address,
            str(s.pid) if s.pid else "-",
            s.detail,
        )
    console.print(table)


@app.command()
def install(only: Only = None) -> None:
    """Install what is missing (Kafka jars, FerretDB binary, PostgreSQL, redis-server, kcat); no start."""
    from infra import manager, paths

    console = _console()
    began = time.monotonic()
    try:
        manager.install(_names(only), progress=_progress(console))
    except manager.InfraError as exc:
        console.print(f"[red]install failed:[/] {exc}")
        raise typer.Exit(1) from None
    console.print(f"installed in {time.monotonic() - began:.1f} s (artifacts in {paths.artifacts()})")


@app.command()
def up(
    only: Only = None,
    timeout: Annotated[float | None, typer.Option(help="Seconds to wait for each server to be ready.")] = None,
) -> None:
    """Start the servers (installing first if needed) and wait until they answer."""
    from infra import manager, paths

    console = _console()
    began = time.monotonic()
    try:
        statuses = manager.up(_names(only), progress=_progress(console), timeout=timeout)
    except manager.UpError as exc:
        _table(console, exc.statuses)
        console.print(f"[red]infra up failed:[/]\n{exc}")
        raise typer.Exit(1) from None
    _table(console, statuses)
    console.print(f"up in {time.monotonic() - began:.1f} s; logs in {paths.logs()}")


@app.command()
def down(
    only: Only = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Also delete their data (not the installed artifacts).")
    ] = False,
) -> None:
    """Stop the servers this project started (never anything else)."""
    from infra import manager, paths

    console = _console()
    try:
        stopped = manager.down(_names(only), reset=reset)
    except manager.InfraError as exc:
        console.print(f"[red]infra down failed:[/] {exc}")
        raise typer.Exit(1) from None
    for name, pid in stopped.items():
        console.print(f"{name:<10} " + (f"stopped (pid {pid})" if pid else "was not running (ours)"))
    if reset:
        console.print(f"data deleted under {paths.run()}")


@app.command()
def status(only: Only = None) -> None:
    """Show each server: running (ours), external (someone else's), or stopped."""
    from infra import manager, paths

    console = _console()
    _table(console, manager.status(_names(only)))
    console.print(f"logs in {paths.logs()}")


@app.command()
def env() -> None:
    """Print the environment variables that point at the local servers (for `eval`)."""
    from infra import manager

    for key, value in manager.environment().items():
        typer.echo(f"export {key}={value}")


@app.command()
def indexes() -> None:
    """Create every read-model index (idempotent; partial where the server supports it)."""
    import asyncio

    from shared import mongo
    from shared.read_model_indexes import ensure_read_model_indexes
    from shared.settings import ProjectorSettings

    async def run() -> IndexReport:
        settings = ProjectorSettings()
        client = mongo.open_mongo(settings)
        try:
            return await ensure_read_model_indexes(mongo.database(client, settings))
        finally:
            await client.close()

    result = asyncio.run(run())
    kind = "partial where declared" if result["partial"] else "full (this server has no partial indexes)"
    typer.echo(f"{result['created']} read-model indexes ensured, {kind}")
