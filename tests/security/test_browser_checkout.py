"""A browser checkout with the publishable key works from a configured origin — preflight,
order, readable answer — and from nowhere else; the command API answers with the same
security headers as the query API."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.commands import auth, order_body, product_body
from tests.security.conftest import SHOP_ORIGIN

pytestmark = pytest.mark.security

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


async def test_a_preflight_for_placing_an_order_is_allowed_for_the_configured_origin(command):
    response = await command.options("/v1/orders", headers={"Origin": SHOP_ORIGIN, **PREFLIGHT})
    assert response.status_code == 204, response.text
    assert response.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "access-control-allow-credentials" not in response.headers


async def test_a_preflight_from_another_origin_is_refused(command):
    response = await command.options("/v1/orders", headers={"Origin": "https://evil.example", **PREFLIGHT})
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers


async def test_the_order_placed_from_the_page_is_readable_by_it(command, new_merchant):
    merchant = await new_merchant()
    created = await command.post("/v1/products", json=product_body(stock=5), headers=auth(merchant["secret_key"]))
    assert created.status_code == 202, created.text
    headers = auth(merchant["publishable_key"], Origin=SHOP_ORIGIN, **{"Idempotency-Key": str(uuid.uuid4())})
    placed = await command.post("/v1/orders", json=order_body((created.json()["id"], 1)), headers=headers)
    assert placed.status_code == 202, placed.text
    assert placed.headers["access-control-allow-origin"] == SHOP_ORIGIN
    exposed = {h.strip().lower() for h in placed.headers["access-control-expose-headers"].split(",")}
    assert {"location", "etag", "retry-after", "x-correlation-id"} <= exposed


async def test_command_api_answers_carry_the_security_headers(command):
    for response in (await command.get("/health/live"), await command.post("/v1/products", json={})):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["strict-transport-security"].startswith("max-age=")
