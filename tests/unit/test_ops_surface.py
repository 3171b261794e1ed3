"""The ops surface's token and what production refuses, without servers."""

from __future__ import annotations

import httpx
import pytest

from shared.observability.ops_listener import ops_app
from shared.observability.runtime import Monitors
from shared.observability.settings import ObservabilitySettings
from shared.production_checks import (
    DEV_CURSOR_SECRET,
    UnsafeConfiguration,
    open_ops_surface,
    refuse_unsafe,
    weak_cursor_secret,
)


def client_for(settings: ObservabilitySettings) -> httpx.AsyncClient:
    app = ops_app(Monitors(settings), settings)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops")


async def test_with_a_token_every_ops_route_but_health_needs_it():
    async with client_for(ObservabilitySettings(ops_token="s3cret-token")) as client:
        for path in ("/metrics", "/ops/memory"):
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret-token"}):
                refused = await client.get(path, headers=headers)
                assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
        assert (await client.post("/ops/memory/tracing")).status_code == 401
        assert (await client.get("/health/live")).status_code == 200
        allowed = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert allowed.status_code == 200 and "# TYPE" in allowed.text


async def test_a_malformed_top_is_a_422_not_a_500():
    async with client_for(ObservabilitySettings()) as client:
        for top in ("lots", "²", "-1", "9" * 40):
            response = await client.get("/ops/memory", params={"top": top})
            assert response.status_code == 422, (top, response.text)


@pytest.mark.parametrize(
    ("host", "port", "token", "open_"),
    [
        ("127.0.0.1", 9001, "", False),
        ("::1", 9001, "", False),
        ("localhost", 9001, "", False),
        ("0.0.0.0", 9001, "", True),
        ("10.0.0.5", 9001, "", True),
        ("ops.internal", 9001, "", True),
        ("0.0.0.0", 9001, "token", False),
        ("0.0.0.0", 0, "", False),
    ],
)
def test_an_ops_surface_is_open_beyond_loopback_without_a_token(host, port, token, open_):
    assert bool(open_ops_surface("query-api", host, port, token)) is open_


def test_production_refuses_what_development_accepts():
    problems = open_ops_surface("query-api", "0.0.0.0", 9002, "") + weak_cursor_secret(DEV_CURSOR_SECRET)
    assert len(problems) == 2
    refuse_unsafe(ObservabilitySettings(env="development"), problems)  # goes on
    with pytest.raises(UnsafeConfiguration, match="MERCHANT_OPS_TOKEN.*QUERY_API_CURSOR_SECRET"):
        refuse_unsafe(ObservabilitySettings(env="production"), problems)
    assert weak_cursor_secret("short") and not weak_cursor_secret("x" * 32)
