"""MongoDB stopped or hung: requests that need it are answered 503 with ``Retry-After``
within a bounded time, cached catalogue pages keep answering 200, and everything works
again once the store is back (issue #18).

A command API and a query API of their own talk to the session's MongoDB through a
``FaultProxy``, which stops the server (connections refused and reset) or hangs it
(connections accepted, nothing answered) without touching the shared server. The
session's projectors (direct to MongoDB) keep the read models.

Each case has a merchant of its own and waits until its last command is projected: a
change to the session's shared merchant (another test's, or the previous case's recovery,
projected late on a busy machine) would invalidate the cached page while the store is out,
and the page could then only be reloaded from the store that is out.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import httpx
import pytest
import pytest_asyncio

from tests.e2e.commands import auth, product_body
from tests.support.fault_proxy import FaultProxy
from tests.support.processes import http_service

pytestmark = pytest.mark.e2e

STORE_TIMEOUT = "1"  # seconds: short for the test; the default is 5
BOUND = 3.0  # the bound on the 503


@pytest_asyncio.fixture(loop_scope="session")
async def proxy(server_env) -> AsyncIterator[FaultProxy]:
    target = urlparse(server_env["MONGODB_URL"])
    running = await FaultProxy(target.hostname or "127.0.0.1", target.port or 27017).start()
    yield running
    await running.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def apis(stack, server_env, proxy, tmp_path) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    env = {
        **server_env,
        "MONGODB_URL": f"mongodb://127.0.0.1:{proxy.port}/?directConnection=true",
        "COMMAND_API_STORE_TIMEOUT_SECONDS": STORE_TIMEOUT,
        "QUERY_API_STORE_TIMEOUT_SECONDS": STORE_TIMEOUT,
        "COMMAND_API_RELAY_INTERVAL_SECONDS": "0.5",
        "COMMAND_API_RELAY_GRACE_SECONDS": "1",
        "QUERY_API_WARM_UP_QUERIES": "0",
    }
    services = [http_service(name, name, env, tmp_path) for name in ("command-api", "query-api")]
    try:
        for service in services:
            service.start()
        for service in services:
            await asyncio.to_thread(service.wait_ready, 60)
        async with (
            httpx.AsyncClient(base_url=services[0].url, timeout=30) as commands,
            httpx.AsyncClient(base_url=services[1].url, timeout=30) as queries,
        ):
            yield commands, queries
    finally:
        for service in services:
            await asyncio.to_thread(service.stop)


async def _timed(request) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


async def _projected(queries: httpx.AsyncClient, path: str, timeout: float = 30.0) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while (response := await queries.get(path)).status_code != 200:
        assert time.monotonic() < deadline, f"{path} never projected: {response.status_code}"
        await asyncio.sleep(0.2)
    return response


def _assert_store_unavailable(response: httpx.Response, took: float, what: str) -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
    assert response.json()["error"]["code"] == "store_unavailable", what
    assert int(response.headers["retry-after"]) > 0, what
    assert took < BOUND, f"{what} took {took:.2f} s"


@pytest_asyncio.fixture(loop_scope="session")
async def own_merchant(mongo_db) -> dict:
    """A merchant no other test changes products of."""
    from command_api.bootstrap import bootstrap

    side = bootstrap(db=mongo_db)
    await side.prepare()
    created = await side.merchants.create(f"Outage Shop {uuid.uuid4().hex[:6]}")
    return {"merchant_id": created.merchant_id, "secret_key": created.secret_key}


@pytest.mark.parametrize("fault", ["down", "hang"])
async def test_a_stopped_or_hung_store_is_a_prompt_503_while_cached_pages_are_served(apis, proxy, own_merchant, fault):
    commands, queries = apis
    merchant = own_merchant
    key = auth(merchant["secret_key"])
    created = await commands.post("/v1/products", json=product_body(category=f"outage-{fault}"), headers=key)
    assert created.status_code == 202, created.text
    product = created.json()["id"]
    await _projected(queries, f"/v1/products/{product}")
    page = f"/v1/products?merchant={merchant['merchant_id']}&category=outage-{fault}"
    first = await _projected(queries, page)
    assert product in first.text  # now cached in the query API's L1

    await getattr(proxy, fault)()
    try:
        command, command_took = await _timed(
            commands.post(
                f"/v1/products/{product}/price", json={"price": {"amount": 777, "currency": "EUR"}}, headers=key
            )
        )
        read, read_took = await _timed(queries.get("/v1/products/not-cached-anywhere"))
        cached, _ = await _timed(queries.get(page))
    finally:
        await proxy.heal()

    _assert_store_unavailable(command, command_took, f"a command with the store {fault}")
    _assert_store_unavailable(read, read_took, f"an uncached read with the store {fault}")
    assert cached.status_code == 200 and cached.json() == first.json()

    # Back in service once the store is: the same command goes through.
    deadline = time.monotonic() + 30
    while (
        again := await commands.post(
            f"/v1/products/{product}/price", json={"price": {"amount": 777, "currency": "EUR"}}, headers=key
        )
    ).status_code == 503:
        assert time.monotonic() < deadline, again.text
        await asyncio.sleep(0.5)
    assert again.status_code == 202, again.text
    # ...and is projected: nothing of this case is still on its way when the next begins.
    changed = await _projected(queries, f"/v1/products/{product}?min_version={again.json()['version']}")
    assert changed.json()["price"]["amount"] == 777
