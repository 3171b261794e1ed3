"""Load shedding: beyond N requests in flight, 503 at once; probes are never shed."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shared.http.load_shedding import LoadSheddingMiddleware


def _app(release: asyncio.Event, limit: int) -> Starlette:
    async def slow(request):
        await release.wait()
        return PlainTextResponse("done")

    async def live(request):
        return PlainTextResponse("live")

    return Starlette(
        routes=[Route("/slow", slow), Route("/health/live", live)],
        middleware=[Middleware(LoadSheddingMiddleware, limit=limit)],
    )


async def test_requests_beyond_the_limit_get_503_with_retry_after_and_the_admitted_ones_finish():
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_app(release, limit=2))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        admitted = [asyncio.create_task(client.get("/slow")) for _ in range(2)]
        await asyncio.sleep(0.05)  # both are in flight now
        shed = await client.get("/slow")
        probe = await client.get("/health/live")
        release.set()
        answers = await asyncio.gather(*admitted)
        after = await client.get("/slow")  # the slots are free again

    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "overloaded"
    assert probe.status_code == 200
    assert [a.status_code for a in answers] == [200, 200]
    assert after.status_code == 200


async def test_limit_zero_turns_it_off():
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_app(release, limit=0))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = [asyncio.create_task(client.get("/slow")) for _ in range(5)]
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(*waiting)
    assert all(a.status_code == 200 for a in answers)
