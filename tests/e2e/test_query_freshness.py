"""A price changed through the command API is never served stale once the projection has
applied it — the whole real path: command → event store → Kafka → projector (read model +
invalidation) → query API, with two query API processes sharing Redis (L1 is per process).

"Applied" is observed as a client would: a read-your-writes read (``min_version``, the
version the command API returned) answers with the new version. From then on every read
— product and lists, from either process, from L1 or L2, with or without ``If-None-Match``
carrying the old ETag — must show the new price. Before that moment the old price may
still be served (the projection lag); that is allowed and not checked.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from merchant_testkit.processes import Service, http_service
from merchant_testkit.stack import DEFAULT_ENV
from tests.e2e.commands import auth, create_product

pytestmark = pytest.mark.e2e

CHANGES = 3
ROUNDS_AFTER = 40  # polls per change once the new version is visible


@pytest.fixture(scope="module")
def second_query_api(stack, server_env, tmp_path_factory):
    """Another query API process on the same Redis and database: its own L1, shared L2."""
    env = {
        **server_env,
        **DEFAULT_ENV,
        "QUERY_API_RATE_LIMIT_PER_SECOND": "100000",
        "QUERY_API_RATE_LIMIT_BURST": "100000",
    }
    service: Service = http_service("query-api-b", "query-api", env, tmp_path_factory.mktemp("query-b"))
    service.start()
    try:
        service.wait_ready()
        yield service
    finally:
        service.stop()


async def get(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    """GET, waiting out the per-client rate limit of the stack's process (a 429 is no answer)."""
    while True:
        response = await client.get(path, headers=headers)
        if response.status_code != 429:
            return response
        await asyncio.sleep(0.05)


def price_in(response: httpx.Response, product_id: str) -> int:
    body = response.json()
    if "data" in body:
        return next(p["price"]["amount"] for p in body["data"] if p["id"] == product_id)
    return body["price"]["amount"]


async def cache_counters(client: httpx.AsyncClient) -> dict:
    return (await client.get("/health/cache")).json()


async def test_price_change_is_never_served_stale(
    command_client, query_client, second_query_api, wait_for_projection, merchant
):
    category = f"fresh-{uuid.uuid4().hex[:8]}"  # lists of this test's products only
    product_id = await create_product(
        command_client, merchant, category=category, price={"amount": 1000, "currency": "EUR"}
    )
    for i in range(3):  # neighbours, so the lists hold more than one product
        await create_product(
            command_client,
            merchant,
            category=category,
            name=f"Neighbour {i}",
            price={"amount": 1500 + i, "currency": "EUR"},
        )
    await wait_for_projection(f"/v1/products/{product_id}", 1)
    m = merchant["merchant_id"]
    paths = [
        f"/v1/products/{product_id}",
        f"/v1/products?merchant={m}&category={category}",
        f"/v1/products?merchant={m}&category={category}&sort=price_asc",
        f"/v1/products?category={category}&sort=price_desc",
    ]
    async with httpx.AsyncClient(base_url=second_query_api.url, timeout=10) as other_client:
        clients = (query_client, other_client)  # A = the stack's process, B = the second one
        before_b = await cache_counters(other_client)
        price = 1000
        for change in range(1, CHANGES + 1):
            # Both processes cache every path at the current price: A loads (L2 filled), B
            # reads after A (an L2 hit, then L1). Remember the ETags now about to go stale.
            old_etags = {}
            for client in clients:
                for path in paths:
                    response = await wait_until_price(client, path, product_id, price)
                    old_etags[client, path] = response.headers["etag"]
            old, price = price, price + 100
            changed = await command_client.post(
                f"/v1/products/{product_id}/price",
                json={"price": {"amount": price, "currency": "EUR"}},
                headers=auth(merchant["secret_key"]),
            )
            assert changed.status_code == 202, changed.text
            version = changed.json()["version"]

            applied = await wait_for_projection(f"/v1/products/{product_id}?min_version={version}", version)
            assert applied.json()["price"]["amount"] == price

            for _ in range(ROUNDS_AFTER):
                reads = [
                    (client, path, inm)
                    for client in clients
                    for path in paths
                    for inm in (None, old_etags[client, path])
                ]
                responses = await asyncio.gather(
                    *(get(client, path, **({"If-None-Match": inm} if inm else {})) for client, path, inm in reads)
                )
                for (client, path, inm), response in zip(reads, responses, strict=True):
                    where = f"change {change}, {client.base_url}{path}, If-None-Match={inm}"
                    assert response.status_code == 200, f"{where}: {response.status_code} (old ETag still valid?)"
                    assert price_in(response, product_id) == price, f"{where}: old price {old} served"
                    assert response.headers["etag"] != inm
            # The new ETag validates: a 304, not a stale 200.
            for client in clients:
                fresh = await get(client, paths[0])
                assert (await get(client, paths[0], **{"If-None-Match": fresh.headers["etag"]})).status_code == 304

        after_b = await cache_counters(other_client)
    # Process B really served from both levels: L2 hits (entries A loaded) and L1 hits.
    assert after_b["l2_hits"] > before_b["l2_hits"]
    assert after_b["l1_hits"] > before_b["l1_hits"]


async def wait_until_price(client: httpx.AsyncClient, path: str, product_id: str, price: int) -> httpx.Response:
    """The path served with ``price`` (the projection of the previous change may lag)."""
    for _ in range(300):
        response = await get(client, path)
        if (
            response.status_code == 200
            and any(p.get("id") == product_id for p in response.json().get("data", [response.json()]))
            and price_in(response, product_id) == price
        ):
            return response
        await asyncio.sleep(0.05)
    raise AssertionError(f"{client.base_url}{path} never served price {price}: {response.text[:300]}")
