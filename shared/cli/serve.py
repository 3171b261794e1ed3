"""``merchant serve <component>``: run one component in the foreground."""

from __future__ import annotations

import asyncio
import enum
import logging

import typer


class Component(str, enum.Enum):
    command_api = "command-api"
    query_api = "query-api"
    projectors = "projectors"
    workers = "workers"
    outbox_relay = "outbox-relay"


_APPS = {
    Component.command_api: ("command_api.app:create_app", "COMMAND_API"),
    Component.query_api: ("query_api.app:create_app", "QUERY_API"),
}


def serve(
    component: Component = typer.Argument(..., help="Which component to run."),
    host: str | None = typer.Option(None, help="Bind address (HTTP components)."),
    port: int | None = typer.Option(None, help="Port (HTTP components)."),
    workers: int = typer.Option(1, help="Processes (HTTP components)."),
    log_level: str = typer.Option("info", help="Log level."),
) -> None:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if component in _APPS:
        _serve_http(component, host, port, workers, log_level)
    else:
        _serve_stream(component)


def _serve_http(component: Component, host: str | None, port: int | None, workers: int,
                log_level: str) -> None:
    import uvicorn

    from shared.settings import CommandApiSettings, QueryApiSettings

    target, _ = _APPS[component]
    settings = CommandApiSettings() if component is Component.command_api else QueryApiSettings()
    uvicorn.run(target, factory=True, host=host or settings.host, port=port or settings.port,
                workers=workers, log_level=log_level, access_log=False, lifespan="on")


def _serve_stream(component: Component) -> None:
    if component is Component.outbox_relay:
        asyncio.run(_relay_forever())
        return
    if component is Component.projectors:
        from projectors.app import create_app
    else:
        from workers.app import create_app
    asyncio.run(create_app().run())


async def _relay_forever() -> None:
    """The command side's background work without its HTTP: the outbox relay (commits not
    yet on Kafka) and the reservation reconciler. Safe beside running API processes."""
    from command_api.app import write_side
    from shared.settings import CommandApiSettings

    async with write_side(CommandApiSettings()):
        await asyncio.Event().wait()
