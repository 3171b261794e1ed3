"""Over the rate limit: 429 with Retry-After, per client; health checks are not limited."""

from __future__ import annotations

import pytest

from tests.integration.query_api.conftest import query_settings, running_query_api

pytestmark = pytest.mark.integration


async def test_burst_then_429_with_retry_after(server_env, settings):
    limited = query_settings(server_env, rate_limit_per_second=0.5, rate_limit_burst=3)
    async with running_query_api(limited) as (client, _):
        statuses = [(await client.get("/v1/categories")).status_code for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        refused = await client.get("/v1/categories")
        assert refused.json()["error"]["code"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        assert (await client.get("/health/live")).status_code == 200
