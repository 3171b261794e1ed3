"""The Redis adapter against a real server."""

from __future__ import annotations

import uuid

import pytest

from shared.redis import open_redis, ping

pytestmark = pytest.mark.integration


async def test_redis_answers_and_expires(settings):
    client = open_redis(settings)
    try:
        assert await ping(client)
        key = f"test:{uuid.uuid4().hex}"
        await client.set(key, b"value", px=200)
        assert await client.get(key) == b"value"
        assert 0 < await client.pttl(key) <= 200
    finally:
        await client.aclose()


async def test_ping_is_false_when_redis_is_unreachable(settings):
    client = open_redis(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    try:
        assert await ping(client) is False
    finally:
        await client.aclose()
