"""Waiting for eventual consistency without sleeps: poll until true, fail with context."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx

T = TypeVar("T")


class NotReached(AssertionError):
    """The awaited condition did not hold within the time allowed."""


async def wait_until(
    probe: Callable[[], Awaitable[T]],
    accept: Callable[[T], bool],
    *,
    timeout: float = 15.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Call ``probe`` until ``accept(result)``; returns that result or raises ``NotReached``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await probe()
        if accept(result):
            return result
        if loop.time() > deadline:
            raise NotReached(f"{what} not reached within {timeout}s; last seen: {describe(result)}")
        await asyncio.sleep(interval)


def describe(result: object) -> str:
    if isinstance(result, httpx.Response):
        return f"{result.status_code} {result.text[:300]}"
    return repr(result)[:300]


async def wait_for_projection(
    client: httpx.AsyncClient, path: str, version: int, *, timeout: float = 15.0, **request
) -> httpx.Response:
    """GET ``path`` until it answers 200 with ``"version" >= version``; returns that response.

    Read models carry the aggregate version they reflect, so "the projection reached
    version N" is observable from the outside, through the query API.
    """

    def reached(response: httpx.Response) -> bool:
        return response.status_code == 200 and response.json().get("version", 0) >= version

    return await wait_until(
        lambda: client.get(path, **request), reached, timeout=timeout, what=f"{path} at version {version}"
    )
