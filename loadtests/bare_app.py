"""The baseline: a bare Starlette endpoint returning a fixed JSON body (no middleware, no
cache, no I/O) — what a cached catalogue page is compared with."""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def create_app() -> Starlette:
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()

    async def page(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def ready(request: Request) -> Response:  # after /page: never on the measured route's way
        return Response(b"ok")

    return Starlette(routes=[Route("/page", page, methods=["GET"]), Route("/health/ready", ready)])
