"""A revoked key is refused by every API process within 1 s: ``merchant merchants
rotate-keys`` announces the revocation on Redis and each process drops the key from its
cache (which would otherwise keep it for 30 s)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.commands import auth, product_body

pytestmark = pytest.mark.security


async def test_a_revoked_key_is_refused_by_a_second_query_api_process_within_a_second(
    guarded, api_process, new_merchant, security_env
):
    merchant = await new_merchant()
    second = api_process("query-api")
    reads = [f"{guarded.query_api.url}/v1/merchant/orders", f"{second.url}/v1/merchant/orders"]
    sk = auth(merchant["secret_key"])
    async with httpx.AsyncClient(timeout=10) as client:
        for url in reads:  # both processes now hold the key in their cache
            assert (await client.get(url, headers=sk)).status_code == 200
        command = f"{guarded.command_api.url}/v1/products"
        assert (await client.post(command, json=product_body(), headers=sk)).status_code == 202

        rotated = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "merchant_cli.main", "merchants", "rotate-keys"]
            + ["--merchant-id", merchant["merchant_id"], "--kind", "secret", "--json"],
            env={**os.environ, **security_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        revoked_at = time.monotonic()
        assert rotated.returncode == 0, rotated.stderr
        assert "warning" not in rotated.stderr
        new_key = json.loads(rotated.stdout)["secret_key"]

        async def refused_everywhere() -> list[int]:
            statuses = [(await client.get(url, headers=sk)).status_code for url in reads]
            statuses.append((await client.post(command, json=product_body(), headers=sk)).status_code)
            return statuses

        statuses = await refused_everywhere()
        while statuses != [401, 401, 401] and time.monotonic() - revoked_at < 5:
            await asyncio.sleep(0.05)
            statuses = await refused_everywhere()
        assert statuses == [401, 401, 401]
        assert time.monotonic() - revoked_at < 1.0
        for url in reads:
            assert (await client.get(url, headers=auth(new_key))).status_code == 200
