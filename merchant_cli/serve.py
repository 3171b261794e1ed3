"""``merchant serve <component>``: run one component in the foreground.

``--workers N`` runs N processes: uvicorn's supervisor for the HTTP services (one public
port; one ops port whose ``/metrics`` sums the processes), N supervised children for
projectors and workers (each on its own ops port: base, base+1, ...; more projector
processes than partitions would sit idle). ``--metrics-port`` sets the ops listener's
port (``/metrics``, ``/ops/*``; docs/operations.md) of any component. ``--prod`` (or
``MERCHANT_ENV=production``) turns on the production settings: uvloop and httptools,
larger pools with compression, ``gc.freeze()`` after start-up, a 30 s graceful drain —
and refuses to start with an open ops surface or the default cursor secret
(``shared.production_checks``).
"""

from __future__ import annotations

import asyncio
import enum
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from types import FrameType
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from faststream import FastStream

    from shared.observability.settings import ObservabilitySettings


class Component(enum.StrEnum):
    command_api = "command-api"
    query_api = "query-api"
    projectors = "projectors"
    workers = "workers"
    outbox_relay = "outbox-relay"


_APPS = {
    Component.command_api: ("command_api.entrypoints.app:create_app", "COMMAND_API"),
    Component.query_api: ("query_api.entrypoints.app:create_app", "QUERY_API"),
}
GRACEFUL_SECONDS = 30
# How long an idle keep-alive connection stays open. Longer than the idle timeout of the
# usual load balancers (60 s) and client pools: the client side then closes first, and a
# request is never sent on a connection the server is closing at that instant (the usual
# cause of a request with no answer on a rarely used connection: a spike run of
# 2026-12-06 had one such checkout in ~440, with uvicorn's default of 5 s).
KEEP_ALIVE_SECONDS = 75


def serve(
    component: Component = typer.Argument(..., help="Which component to run."),
    host: str | None = typer.Option(None, help="Bind address (HTTP components)."),
    port: int | None = typer.Option(None, help="Port (HTTP components)."),
    workers: int = typer.Option(1, min=1, help="Processes."),
    prod: bool = typer.Option(False, "--prod", help="Production mode (same as MERCHANT_ENV=production)."),
    metrics_port: int | None = typer.Option(None, help="The ops listener's port: /metrics, /ops/* (0: none)."),
    log_level: str | None = typer.Option(None, help="Log level (default MERCHANT_LOG_LEVEL or info)."),
    log_format: str | None = typer.Option(None, help="json (default) or text."),
) -> None:
    # Environment first: child processes (uvicorn workers, stream children) inherit it.
    for name, value in (
        ("MERCHANT_ENV", "production" if prod else None),
        ("MERCHANT_LOG_LEVEL", log_level),
        ("MERCHANT_LOG_FORMAT", log_format),
        ("MERCHANT_METRICS_PORT", None if metrics_port is None else str(metrics_port)),
    ):
        if value is not None:
            os.environ[name] = value
    from shared.observability.logs import configure_logging
    from shared.observability.settings import ObservabilitySettings

    settings = ObservabilitySettings()
    log_config = configure_logging(settings.log_format, settings.log_level, settings.log_library_level)
    if component in _APPS:
        _serve_http(component, host, port, workers, settings, log_config)
    elif workers > 1:
        raise typer.Exit(_supervise_streams(component, workers, settings.metrics_port_for(component.value)))
    else:
        _serve_stream(component, settings.production)


def _serve_http(
    component: Component,
    host: str | None,
    port: int | None,
    workers: int,
    obs: ObservabilitySettings,
    log_config: dict[str, Any],
) -> None:
    import uvicorn

    from shared.settings import CommandApiSettings, QueryApiSettings

    target, _ = _APPS[component]
    settings = CommandApiSettings() if component is Component.command_api else QueryApiSettings()
    metrics_dir = None
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Each worker writes its metrics to files here; the ops port's /metrics sums them.
        metrics_dir = tempfile.mkdtemp(prefix=f"merchant-metrics-{component.value}-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    try:
        uvicorn.run(
            target,
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            log_config=log_config,
            access_log=False,
            lifespan="on",
            loop="uvloop" if obs.production else "auto",
            http="httptools" if obs.production else "auto",
            timeout_graceful_shutdown=GRACEFUL_SECONDS if obs.production else 5,
            timeout_keep_alive=KEEP_ALIVE_SECONDS if obs.production else 5,
        )
    finally:
        if metrics_dir:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _serve_stream(component: Component, production: bool) -> None:
    if component is Component.outbox_relay:
        asyncio.run(_relay_forever())
        return
    app: FastStream
    if component is Component.projectors:
        from projectors.entrypoints.app import create_app as projectors_app

        app = projectors_app()
    else:
        from workers.entrypoints.app import create_app as workers_app

        app = workers_app()
    # FastStream stops on SIGTERM/SIGINT: the broker waits for in-flight handlers (its
    # graceful timeout), so a batch finishes and its offsets are committed before exit.
    if production:
        import uvloop

        uvloop.run(app.run())
    else:
        asyncio.run(app.run())


def _supervise_streams(component: Component, count: int, base_port: int) -> int:
    """N copies of one stream component; SIGTERM/SIGINT are passed on; exits when all did."""
    children = []
    for index in range(count):
        env = {**os.environ, "MERCHANT_METRICS_PORT": str(base_port + index if base_port else 0)}
        children.append(
            subprocess.Popen([sys.executable, "-m", "merchant_cli.main", "serve", component.value], env=env)
        )

    def forward(signum: int, frame: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    return max(codes, key=abs)


async def _relay_forever() -> None:
    """The command side's background work without its HTTP: the outbox relay (commits not
    yet on Kafka, and the placements and cancels a crash left unfinished), from
    ``bootstrap`` as in the API. It passes once at start, then whenever there is work it
    knows of (docs/operations.md). Safe beside running API processes."""
    from command_api.bootstrap import bootstrap

    async with bootstrap().running():
        await asyncio.Event().wait()
