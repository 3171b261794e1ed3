"""The body-read deadline: a body that does not arrive in time is a 408, and the slot is free."""

from __future__ import annotations

import asyncio
import time

import orjson
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from shared.http.body import parse_body
from shared.http.errors import EXCEPTION_HANDLERS


class Thing(BaseModel):
    name: str


async def _create(request: Request) -> JSONResponse:
    thing = await parse_body(request, Thing, 1024, timeout=0.3)
    return JSONResponse({"name": thing.name})


APP = Starlette(routes=[Route("/things", _create, methods=["POST"])], exception_handlers=EXCEPTION_HANDLERS)


async def _call(chunks: list[bytes], gap: float) -> tuple[int, dict[str, str], dict]:
    """POST the chunks one ``gap`` apart; the status, headers and JSON body."""
    pending = list(chunks)
    sent: list[dict] = []

    async def receive() -> dict:
        if not pending:
            await asyncio.sleep(3600)  # a client that never finishes
        await asyncio.sleep(gap)
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/things",
        "headers": [(b"content-type", b"application/json")],
        "query_string": b"",
        "root_path": "",
        "server": ("t", 80),
    }
    await APP(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, orjson.loads(body)


async def test_a_trickled_body_gets_408_at_the_deadline():
    started = time.monotonic()
    status, headers, body = await _call([b'{"na', b'me": ', b'"x"', b"}"], gap=0.2)
    assert status == 408
    assert body["error"]["code"] == "body_timeout"
    assert headers["connection"] == "close"
    assert time.monotonic() - started < 1.0


async def test_a_body_sent_in_time_is_read():
    status, _, body = await _call([b'{"name": ', b'"x"}'], gap=0.01)
    assert status == 200 and body == {"name": "x"}
