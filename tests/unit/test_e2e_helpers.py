"""The e2e suite's own helpers, against a fake client (no servers)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from tests.e2e.commands import GIVE_UP_AFTER, post_until_answered


class AlwaysOverloaded:
    """An API that sheds every request, as an overloaded command API does."""

    def __init__(self) -> None:
        self.posts = 0

    async def post(self, path: str, **kwargs) -> httpx.Response:
        self.posts += 1
        return httpx.Response(503, json={"error": {"code": "overloaded"}}, headers={"Retry-After": "1"})


async def test_a_client_facing_endless_503s_gives_up_instead_of_hanging():
    client = AlwaysOverloaded()
    began = time.monotonic()
    with pytest.raises(AssertionError, match="still 503 overloaded"):
        await asyncio.wait_for(post_until_answered(client, "/v1/orders", give_up_after=0.5), timeout=5)
    assert 0.5 <= time.monotonic() - began < 2 and client.posts > 1  # retried, then gave up


def test_the_concurrency_test_gives_up_well_within_60_seconds():
    assert GIVE_UP_AFTER < 60
