"""The baseline: a bare Starlette endpoint that reads a JSON body and answers 202.

What any command endpoint costs at least on this machine (HTTP parsing, JSON, the
event loop), with no authentication, validation, database or Kafka.
"""

from __future__ import annotations

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def accept(request: Request) -> Response:
    body = orjson.loads(await request.body())
    return Response(
        orjson.dumps({"id": "x", "version": 1, "echo": len(body)}), status_code=202, media_type="application/json"
    )


async def ready(request: Request) -> Response:
    return Response(b"ok")


def create_app() -> Starlette:
    # /health/ready after the measured route: never on its way.
    return Starlette(routes=[Route("/v1/accept", accept, methods=["POST"]), Route("/health/ready", ready)])
