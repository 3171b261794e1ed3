"""The ops surface is closed: nothing of it on the public ports, the token on the ops
listener, and production refuses to start with it open or with the default cursor secret."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from merchant_testkit.processes import free_port
from tests.security.conftest import OPS_TOKEN

pytestmark = pytest.mark.security

OPS_REQUESTS = [("GET", "/metrics"), ("GET", "/ops/memory?top=5"), ("POST", "/ops/memory/tracing")]


async def test_ops_and_metrics_are_not_on_the_public_ports(guarded):
    async with httpx.AsyncClient(timeout=10) as client:
        for service in (guarded.command_api, guarded.query_api):
            for method, path in OPS_REQUESTS:
                response = await client.request(method, f"{service.url}{path}")
                assert response.status_code in (404, 405), (service.name, path, response.status_code)
                assert "merchant_orders_placed_total" not in response.text
                assert "tracing" not in response.text


async def test_the_ops_listener_needs_the_token(guarded):
    async with httpx.AsyncClient(timeout=10) as client:
        for service in (guarded.command_api, guarded.query_api, guarded.projectors):
            for method, path in OPS_REQUESTS[:2]:
                for headers in ({}, {"Authorization": "Bearer not-the-token"}):
                    refused = await client.request(method, f"{service.ops_url}{path}", headers=headers)
                    assert refused.status_code == 401, (service.name, path, refused.text)
            ok = await client.get(f"{service.ops_url}/metrics", headers={"Authorization": f"Bearer {OPS_TOKEN}"})
            assert ok.status_code == 200 and "merchant_process_rss_bytes" in ok.text
            assert (await client.get(f"{service.ops_url}/health/live")).status_code == 200  # probes carry no token


def serve(component: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """``merchant serve <component> --prod``: it must exit by itself (refused), within the timeout."""
    args = ["--port", str(free_port())] if component.endswith("-api") else []
    return subprocess.run(
        [sys.executable, "-m", "merchant_cli.main", "serve", component, "--prod", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("component", ["command-api", "query-api", "projectors"])
def test_production_refuses_an_ops_listener_open_beyond_loopback_without_a_token(security_env, component):
    env = {**security_env, "MERCHANT_METRICS_HOST": "0.0.0.0", "QUERY_API_CURSOR_SECRET": "x" * 32}
    done = serve(component, env)
    assert done.returncode != 0
    assert "refuses to start" in done.stderr and "MERCHANT_OPS_TOKEN" in done.stderr, done.stderr[-2000:]


def test_production_refuses_the_published_cursor_secret(security_env):
    done = serve("query-api", {**security_env, "MERCHANT_METRICS_PORT": str(free_port())})
    assert done.returncode != 0
    assert "refuses to start" in done.stderr and "QUERY_API_CURSOR_SECRET" in done.stderr, done.stderr[-2000:]
