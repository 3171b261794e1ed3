"""The worker's operations surface: heartbeats and a small HTTP endpoint.

- ``heartbeat`` writes this process's per-kind counters to ``worker_status`` every two
  seconds (``in_flight`` in queue health is the sum over fresh heartbeats);
- ``OpsServer`` serves ``GET /ops/jobs`` (queue health per kind, as ``merchant jobs
  status``) and ``GET /health/live`` on ``WORKER_OPS_HOST:WORKER_OPS_PORT`` (0 = off);
  ``/ops/jobs`` needs the ops token when ``MERCHANT_OPS_TOKEN`` is set, and production
  refuses to start it beyond loopback without one (``shared.production_checks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Iterator, Mapping
from dataclasses import asdict

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.events import utc_now
from shared.mongo import Database
from shared.observability.ops import OpsTokenMiddleware
from shared.observability.settings import ObservabilitySettings
from shared.production_checks import open_ops_surface, refuse_unsafe
from shared.settings import WorkerSettings

from workers.adapters.ops import WORKER_STATUS, queue_health
from workers.application.jobs import JobKind
from workers.application.policy import KindStats

PROCESS_ID = f"{socket.gethostname()}:{os.getpid()}"


async def heartbeat(db: Database, stats: Mapping[JobKind, KindStats], every: float = 2.0) -> None:
    try:
        while True:
            with contextlib.suppress(Exception):  # a missed beat only ages the figures
                await db[WORKER_STATUS].replace_one(
                    {"_id": PROCESS_ID},
                    {"kinds": {k: asdict(s) for k, s in stats.items()}, "updated_at": utc_now()},
                    upsert=True,
                )
            await asyncio.sleep(every)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.shield(db[WORKER_STATUS].delete_one({"_id": PROCESS_ID}))


class NoSignalServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # FastStream owns SIGTERM/SIGINT for the whole process


class OpsServer:
    def __init__(self, settings: WorkerSettings, db: Database, stats: Mapping[JobKind, KindStats]) -> None:
        self.settings, self.db, self.stats = settings, db, stats
        self._server: NoSignalServer | None = None
        self._task: asyncio.Task[None] | None = None

    def app(self) -> Starlette:
        async def jobs(request: Request) -> Response:
            health = await queue_health(self.settings, self.db)
            return Response(
                orjson.dumps(
                    {
                        "kinds": health,
                        "process": {"id": PROCESS_ID, "kinds": {k: asdict(s) for k, s in self.stats.items()}},
                    }
                ),
                media_type="application/json",
            )

        async def live(request: Request) -> Response:
            return Response(b'{"status":"live"}', media_type="application/json")

        token = ObservabilitySettings().ops_token
        return Starlette(
            routes=[Route("/ops/jobs", jobs), Route("/health/live", live), Route("/health/ready", live)],
            middleware=[Middleware(OpsTokenMiddleware, token=token)] if token else [],
        )

    async def start(self) -> None:
        if not self.settings.ops_port:
            return
        obs = ObservabilitySettings()
        refuse_unsafe(obs, open_ops_surface("workers", self.settings.ops_host, self.settings.ops_port, obs.ops_token))
        config = uvicorn.Config(
            self.app(),
            host=self.settings.ops_host,
            port=self.settings.ops_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        self._server = NoSignalServer(config)
        self._task = asyncio.create_task(self._server.serve(), name="ops-http")

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._task, 5)
