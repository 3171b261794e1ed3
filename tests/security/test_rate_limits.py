"""Limits on what a key can do, and on guessing keys (docs/security.md, "Limits").

Guessing: 1,000 random bearer tokens from one address are answered 401 for the documented
failed-authentication budget (a burst of 20, refilled at 1 per second), then 429 — and,
once over budget, a guess costs no MongoDB lookup (counted from the process's own
``mongodb_command_duration_seconds_count``). Each guessing test runs a process of its own:
the budget is per process, and exhausting it must not disturb the other tests.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter

import httpx
import pytest

from tests.e2e.commands import auth, order_body, product_body
from tests.security.conftest import mongodb_commands

pytestmark = pytest.mark.security

GUESSES = 1000
FAILURE_BURST, FAILURES_PER_SECOND = 20, 1.0  # the documented defaults
# A process of its own whose background loops stay quiet while it is measured.
QUIET_COMMAND_API = {"COMMAND_API_RELAY_INTERVAL_SECONDS": "3600"}


async def guess(client: httpx.AsyncClient, method: str, path: str) -> tuple[list[int], float, list[httpx.Response]]:
    statuses, refused = [], []
    began = time.monotonic()
    for _ in range(GUESSES):
        token = "sk_" + secrets.token_urlsafe(32)
        response = await client.request(method, path, json=product_body(), headers=auth(token))
        statuses.append(response.status_code)
        if response.status_code == 429 and len(refused) < 3:
            refused.append(response)
    return statuses, time.monotonic() - began, refused


def assert_guessing_is_cut_off(statuses: list[int], elapsed: float, refused: list[httpx.Response]) -> None:
    counts = Counter(statuses)
    assert set(counts) <= {401, 429}, counts
    assert statuses[:FAILURE_BURST] == [401] * FAILURE_BURST
    assert statuses[FAILURE_BURST] == 429
    # After the burst, only what the budget refilled meanwhile is looked up.
    assert counts[401] <= FAILURE_BURST + elapsed * FAILURES_PER_SECOND + 1, (counts, elapsed)
    for response in refused:
        assert response.json()["error"]["code"] == "rate_limited"
        assert int(response.headers["retry-after"]) >= 1


@pytest.mark.parametrize(
    ("component", "method", "path", "env"),
    [
        ("query-api", "GET", "/v1/merchant/orders", {}),
        ("command-api", "POST", "/v1/products", QUIET_COMMAND_API),
    ],
)
async def test_a_thousand_guessed_keys_are_cut_off_without_database_lookups(api_process, component, method, path, env):
    service = api_process(component, **env)
    before = await mongodb_commands(service)
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        statuses, elapsed, refused = await guess(client, method, path)
    lookups = await mongodb_commands(service) - before
    print(f"\n{component}: {dict(Counter(statuses))} in {elapsed:.1f} s, {lookups:.0f} MongoDB commands")
    assert_guessing_is_cut_off(statuses, elapsed, refused)
    assert lookups < 100, f"{lookups} MongoDB commands for {GUESSES} guesses"


async def test_a_known_key_from_a_guessing_address_keeps_working(api_process, new_merchant):
    merchant, unseen = await new_merchant(), await new_merchant()
    service = api_process("query-api")
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        assert (await client.get("/v1/merchant/orders", headers=auth(merchant["secret_key"]))).status_code == 200
        statuses = [
            (await client.get("/v1/merchant/orders", headers=auth("sk_" + secrets.token_urlsafe(32)))).status_code
            for _ in range(FAILURE_BURST + 5)
        ]
        assert statuses[-1] == 429
        assert (await client.get("/v1/merchant/orders", headers=auth(merchant["secret_key"]))).status_code == 200
        # A key this process has not authenticated yet waits for the budget, valid or not.
        assert (await client.get("/v1/merchant/orders", headers=auth(unseen["secret_key"]))).status_code == 429


async def test_a_secret_key_over_its_budget_is_429_and_others_are_not(command, new_merchant):
    """The guarded command API gives a secret key a burst of 40 (COMMAND_API_RATE_LIMIT_BURST)."""
    merchant, other = await new_merchant(), await new_merchant()
    statuses = [
        (await command.post("/v1/products", json={"sku": "x"}, headers=auth(merchant["secret_key"]))).status_code
        for _ in range(45)
    ]
    assert statuses[:40] == [422] * 40 and statuses[-1] == 429, statuses
    assert (
        await command.post("/v1/products", json=product_body(), headers=auth(other["secret_key"]))
    ).status_code == 202


async def test_a_secret_key_over_its_budget_on_the_query_api_is_429(api_process, new_merchant):
    merchant, other = await new_merchant(), await new_merchant()
    service = api_process("query-api", QUERY_API_RATE_LIMIT_PER_SECOND="0.1", QUERY_API_RATE_LIMIT_BURST="5")
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        statuses = [
            (await client.get("/v1/merchant/orders", headers=auth(merchant["secret_key"]))).status_code
            for _ in range(6)
        ]
        assert statuses == [200] * 5 + [429]
        assert (await client.get("/v1/merchant/orders", headers=auth(other["secret_key"]))).status_code == 200


async def test_publishable_key_orders_beyond_the_budget_are_429(command, new_merchant):
    """The guarded command API allows a publishable key a burst of 3 orders, then one per
    10 s (COMMAND_API_RATE_LIMIT_ORDERS_BURST, _PER_SECOND)."""
    merchant, other = await new_merchant(), await new_merchant()
    products = {}
    for shop in (merchant, other):
        created = await command.post("/v1/products", json=product_body(stock=100), headers=auth(shop["secret_key"]))
        assert created.status_code == 202, created.text
        products[shop["merchant_id"]] = created.json()["id"]

    async def place(shop: dict, key: str) -> httpx.Response:
        body = order_body((products[shop["merchant_id"]], 1))
        return await command.post("/v1/orders", json=body, headers=auth(shop[key]))

    statuses = [(await place(merchant, "publishable_key")).status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429], statuses
    refused = await place(merchant, "publishable_key")
    assert refused.json()["error"]["code"] == "rate_limited" and int(refused.headers["retry-after"]) >= 1
    assert (await place(other, "publishable_key")).status_code == 202  # another shop's storefront
    assert (await place(merchant, "secret_key")).status_code == 202  # the dashboard has its own budget
