"""The ops listener: a small HTTP server of its own in every process, for the ops surface.

``/metrics``, ``/ops/memory`` and ``/health/live`` (stream components: ``/health/ready``
too) are served on ``MERCHANT_METRICS_HOST:MERCHANT_METRICS_PORT`` — by default 127.0.0.1
and a port per component (command API 9001, query API 9002, projectors 9101, workers 9111;
0 turns it off) — and never on an API's public port: the metrics tell order counts, order
value and active merchants, and the memory endpoints start tracemalloc on the event loop.
``MERCHANT_OPS_TOKEN`` guards every route but ``/health/*`` (``shared.observability.ops``).

Failure modes: a port already taken (another process, or a second uvicorn worker of the
same service) is a warning, and the process serves without its listener. With
``--workers N`` the first worker to bind serves it: ``/metrics`` still sums every worker
(prometheus-client's multi-process mode), ``/ops/memory`` describes that worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from shared.http.errors import EXCEPTION_HANDLERS
from shared.observability.ops import OpsTokenMiddleware, ops_routes
from shared.observability.runtime import Monitors
from shared.observability.settings import ObservabilitySettings

log = logging.getLogger("merchant.ops")


async def live(request: Request) -> Response:
    return Response(b'{"status":"live"}', media_type="application/json")


def ops_app(monitors: Monitors, settings: ObservabilitySettings, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The ops surface as an app: ``routes`` first (a component's own health), then
    ``/health/live``, ``/metrics`` and ``/ops/*``; the token checked when one is set."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        yield {"monitors": monitors}

    middleware = [Middleware(OpsTokenMiddleware, token=settings.ops_token)] if settings.ops_token else []
    return Starlette(
        routes=[*routes, Route("/health/live", live), *ops_routes(settings)],
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )


def bind(host: str, port: int) -> socket.socket | None:
    """A listening socket, or ``None`` (logged) when the address is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        log.warning("ops port %s:%d unavailable (%s): /metrics and /ops/* not served by this process", host, port, exc)
        return None
    sock.listen(64)
    sock.setblocking(False)
    return sock


class OpsListener:
    """Serves ``app`` on ``host:port`` inside the running event loop, until ``stop``."""

    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: Any = None
        self._task: asyncio.Task[None] | None = None

    @property
    def serving(self) -> bool:
        return self._task is not None

    async def start(self) -> None:
        sock = bind(self.host, self.port) if self.port else None
        if sock is None:
            return
        import uvicorn

        config = uvicorn.Config(self.app, log_config=None, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        # _serve, not serve: serve() would take SIGINT/SIGTERM over from the process's owner
        # (the API's own uvicorn server, or FastStream).
        self._task = asyncio.create_task(self._server._serve(sockets=[sock]), name="ops-listener")
        log.info("ops surface on %s:%d (/metrics, /ops/memory)", self.host, self.port)

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, 5)
        self._task = None
