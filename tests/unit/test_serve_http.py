"""``merchant serve``'s uvicorn settings per mode (``merchant_cli.serve``)."""

from __future__ import annotations

import pytest

from shared.observability.settings import ObservabilitySettings

from merchant_cli.serve import GRACEFUL_SECONDS, KEEP_ALIVE_SECONDS, Component, _serve_http


@pytest.mark.parametrize(
    ("env", "keep_alive", "drain", "loop"),
    [("production", KEEP_ALIVE_SECONDS, GRACEFUL_SECONDS, "uvloop"), ("development", 5, 5, "auto")],
)
def test_production_keeps_idle_connections_longer_than_a_balancers_idle_timeout(
    monkeypatch, env, keep_alive, drain, loop
):
    import uvicorn

    ran: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **kwargs: ran.update(kwargs, target=target))
    _serve_http(Component.query_api, None, None, 1, ObservabilitySettings(env=env), {})
    assert ran["timeout_keep_alive"] == keep_alive and ran["timeout_graceful_shutdown"] == drain
    assert ran["loop"] == loop
    assert KEEP_ALIVE_SECONDS > 60  # the usual load balancer idle timeout: the client side closes first
