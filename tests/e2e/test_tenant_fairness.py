"""One tenant's slow clients never stop another tenant's commands (issue #18).

64 connections with merchant A's key each send headers and then trickle their body a
byte at a time — what a slow-loris client, or a flaky mobile network, does. Without a
body deadline and a fair share of the command API's 64 slots, they hold every slot and
merchant B's command is shed (503) until they finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from urllib.parse import urlparse

import pytest

from tests.e2e.commands import auth, create_product

pytestmark = pytest.mark.e2e

TRICKLERS = 64


async def _trickle(host: str, port: int, key: str, stop: asyncio.Event) -> int | None:
    """Headers, then one byte of a 200-byte body every 0.3 s until answered; the status."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            (
                f"POST /v1/products HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
                "Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{"
            ).encode()
        )
        await writer.drain()
        answer = asyncio.ensure_future(reader.readline())
        while not stop.is_set():
            done, _ = await asyncio.wait({answer}, timeout=0.3)
            if done:
                return int(answer.result().split()[1])
            writer.write(b" ")
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        answer.cancel()
        return None
    finally:
        writer.close()


async def test_64_trickling_bodies_do_not_stop_another_merchants_command(
    stack, command_client, merchant, other_merchant
):
    product = await create_product(command_client, other_merchant)
    url = urlparse(stack.command_api.url)
    stop = asyncio.Event()
    tricklers = [
        asyncio.create_task(_trickle(url.hostname, url.port, merchant["secret_key"], stop)) for _ in range(TRICKLERS)
    ]
    try:
        await asyncio.sleep(1.0)  # every trickler is connected and sending its body
        started = time.monotonic()
        answer = await command_client.post(
            f"/v1/products/{product}/price",
            json={"price": {"amount": 4321, "currency": "EUR"}},
            headers=auth(other_merchant["secret_key"]),
        )
        took = time.monotonic() - started
        assert answer.status_code == 202, answer.text
        assert took < 1.0, f"the other merchant's command took {took:.2f} s"
        statuses = await asyncio.wait_for(asyncio.gather(*tricklers), 30)  # the body deadline ends them
    finally:
        stop.set()
        await asyncio.gather(*tricklers, return_exceptions=True)

    # Every trickler was answered: shed at once beyond its tenant's share, or cut off at
    # the body deadline — none is left holding a slot.
    assert set(statuses) <= {408, 503} and 408 in statuses and 503 in statuses, statuses
