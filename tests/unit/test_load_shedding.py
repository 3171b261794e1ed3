"""Load shedding: beyond N requests in flight, 503 at once; probes are never shed."""

from __future__ import annotations

import asyncio

import httpx
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from shared.http.load_shedding import LoadSheddingMiddleware, bearer_tenant


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


def _tenant_app(release: asyncio.Event, limit: int) -> Starlette:
    async def slow(request):
        await release.wait()
        return PlainTextResponse("done")

    return Starlette(
        routes=[Route("/slow", slow)],
        middleware=[Middleware(LoadSheddingMiddleware, limit=limit, tenant_of=bearer_tenant)],
    )


async def test_one_tenant_cannot_take_every_slot_another_tenant_still_gets_one():
    release = asyncio.Event()
    transport = httpx.ASGITransport(app=_tenant_app(release, limit=8))  # share: 2 once 4 are taken
    greedy = {"Authorization": "Bearer sk_greedy"}
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        held = [asyncio.create_task(client.get("/slow", headers=greedy)) for _ in range(8)]
        await asyncio.sleep(0.05)
        more_of_the_same = await client.get("/slow", headers=greedy)
        other = asyncio.create_task(client.get("/slow", headers={"Authorization": "Bearer sk_other"}))
        await asyncio.sleep(0.05)
        release.set()
        answers = await asyncio.gather(*held)
        other_answer = await other

    # Half the slots (4) are free-for-all; beyond, the greedy tenant holding its share is shed.
    assert sorted(a.status_code for a in answers) == [200] * 4 + [503] * 4
    assert more_of_the_same.status_code == 503
    assert other_answer.status_code == 200


async def test_tenant_counters_are_dropped_when_their_requests_end():
    release = asyncio.Event()
    app = _tenant_app(release, limit=8)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        waiting = [
            asyncio.create_task(client.get("/slow", headers={"Authorization": f"Bearer sk_{i}"})) for i in range(5)
        ]
        await asyncio.sleep(0.05)
        shedder = app.middleware_stack
        release.set()
        await asyncio.gather(*waiting)
    middleware = _find_shedder(shedder)
    assert middleware.in_flight == 0 and middleware.by_tenant == {}


def _find_shedder(app):
    while not isinstance(app, LoadSheddingMiddleware):
        app = app.app
    return app
