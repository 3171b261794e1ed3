"""A command whose deadline ends while its body is still arriving: 503 ``timeout`` (the
deadline's answer), not 408 ``body_timeout`` — the body's own limit was not reached."""

from __future__ import annotations

import asyncio

import orjson

from shared.settings import CommandApiSettings

from command_api.bootstrap import bootstrap_in_memory
from command_api.entrypoints.app import create_app


async def _post_trickled(app, state, key: str, chunks: list[bytes], gap: float) -> tuple[int, dict[str, str], dict]:
    pending, sent = list(chunks), []

    async def receive() -> dict:
        if not pending:
            await asyncio.sleep(3600)
        await asyncio.sleep(gap)
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/products",
        "raw_path": b"/v1/products",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"authorization", f"Bearer {key}".encode()), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 5555),
        "server": ("127.0.0.1", 8000),
        "state": dict(state),
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, orjson.loads(body)


async def test_a_body_still_arriving_at_the_command_deadline_is_a_503_timeout(monkeypatch):
    monkeypatch.setenv("MERCHANT_METRICS_PORT", "0")
    settings = CommandApiSettings(command_timeout_seconds=0.3, body_timeout_seconds=5)
    side = bootstrap_in_memory(settings)
    app = create_app(settings, side=lambda _: side)
    async with app.router.lifespan_context(app) as state:
        merchant = await side.merchants.create("Slow Shop")
        body = orjson.dumps({"sku": "S-1", "name": "P", "category": "c", "price": {"amount": 1, "currency": "EUR"}})
        chunks = [body[:10], body[10:20], body[20:]]
        status, headers, answer = await _post_trickled(app, state, merchant.secret_key, chunks, gap=0.2)
        assert (status, answer["error"]["code"]) == (503, "timeout"), answer
        assert headers["connection"] == "close" and headers["retry-after"] == "1"
        # The same body in time is accepted: the deadline, not the route, refused it.
        status, _, answer = await _post_trickled(app, state, merchant.secret_key, chunks, gap=0.01)
        assert status == 202, answer
