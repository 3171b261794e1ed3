"""An Idempotency-Key keeps its request's fingerprint for its whole lifetime: once a
failed attempt (a 503) has released it, a retry of the *same* request may run again, but
another request under the same key is ``422 idempotency_key_reused`` — the key never
becomes a blank slate."""

from __future__ import annotations

import uuid

import httpx
import pytest

from command_api.application.idempotency import command_id_for
from command_api.application.ports import Outcome
from command_api.bootstrap import bootstrap
from tests.e2e.commands import auth, product_body

pytestmark = pytest.mark.security

ATTEMPTS = 20


async def test_a_released_key_refuses_another_body(api_process, guarded, new_merchant, security_db):
    merchant = await new_merchant()
    store = bootstrap(db=security_db).store
    # Every command times out in this process. Where the 1 ms deadline falls varies: an
    # attempt that times out in the key lookup never reached the handler and binds
    # nothing, so the same request is sent again until one failed in the handler and
    # left its binding (the fingerprint, no answer) under the key.
    timing_out = api_process("command-api", COMMAND_API_COMMAND_TIMEOUT_SECONDS="0.001")
    key = str(uuid.uuid4())
    headers = auth(merchant["secret_key"], **{"Idempotency-Key": key})
    first, other = product_body(), product_body()
    binding = None
    async with httpx.AsyncClient(base_url=timing_out.url, timeout=30) as client:
        for _ in range(ATTEMPTS):
            timed_out = await client.post("/v1/products", json=first, headers=headers)
            assert timed_out.status_code == 503 and timed_out.json()["error"]["code"] == "timeout", timed_out.text
            if (binding := await store.find_by_command(command_id_for(merchant["merchant_id"], key))) is not None:
                break
    assert isinstance(binding, Outcome) and binding.binding, f"no attempt in {ATTEMPTS} left a binding: {binding}"

    # The released key, through an API with the ordinary deadline.
    async with httpx.AsyncClient(base_url=guarded.command_api.url, timeout=30) as client:
        reused = await client.post("/v1/products", json=other, headers=headers)
        assert reused.status_code == 422, reused.text
        assert reused.json()["error"]["code"] == "idempotency_key_reused"
        retried = await client.post("/v1/products", json=first, headers=headers)
        assert retried.status_code == 202, retried.text  # the same request runs again, and now succeeds
        again = await client.post("/v1/products", json=first, headers=headers)
        assert again.status_code == 202 and again.json()["id"] == retried.json()["id"], again.text  # replayed
