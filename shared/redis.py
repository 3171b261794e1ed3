"""Redis client factory. Opened in lifespans, never at import."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis

from shared.settings import ServerSettings


def open_redis(settings: ServerSettings, **options: Any) -> Redis:
    from shared.observability import production

    options = {**production.redis_options(), **options}
    options.setdefault("socket_connect_timeout", 1.0)
    options.setdefault("socket_timeout", 1.0)
    return Redis.from_url(settings.redis_url, **options)


async def ping(client: Redis) -> bool:
    try:
        return bool(await client.ping())
    except Exception:
        return False
