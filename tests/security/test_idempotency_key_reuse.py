"""An Idempotency-Key keeps its request's fingerprint for its whole lifetime: once a
failed attempt (a 503) has released it, a retry of the *same* request may run again, but
another request under the same key is ``422 idempotency_key_reused`` — the key never
becomes a blank slate."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.e2e.commands import auth, product_body

pytestmark = pytest.mark.security


async def test_a_released_key_refuses_another_body(api_process, new_merchant):
    merchant = await new_merchant()
    # Every command times out here: its key is released after the 503.
    service = api_process("command-api", COMMAND_API_COMMAND_TIMEOUT_SECONDS="0.001")
    key = str(uuid.uuid4())
    headers = auth(merchant["secret_key"], **{"Idempotency-Key": key})
    first, other = product_body(), product_body()
    async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
        timed_out = await client.post("/v1/products", json=first, headers=headers)
        assert timed_out.status_code == 503 and timed_out.json()["error"]["code"] == "timeout", timed_out.text
        reused = await client.post("/v1/products", json=other, headers=headers)
        assert reused.status_code == 422, reused.text
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        retried = await client.post("/v1/products", json=first, headers=headers)
        assert retried.status_code != 422, retried.text  # the same request may run again (here: times out again)
