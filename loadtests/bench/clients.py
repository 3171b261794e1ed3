"""Connections for the closed-loop clients: each client holds one keep-alive connection
(the raw client of ``loadtests.raw_http``: httpx costs ~1 ms of CPU per request, which on
two cores would measure the client rather than the server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from loadtests.bench.rounds import Connect, Operation
from loadtests.raw_http import RawConnection

# method, path, JSON body (bytes, b"" for none), headers
Request = tuple[str, str, bytes, dict[str, str]]


def http(url: str, make_request: Callable[[], Request], expect: int) -> Connect:
    """A connection to ``url`` whose operation sends ``make_request()`` and expects ``expect``."""
    parts = urlsplit(url)

    @asynccontextmanager
    async def connect() -> AsyncIterator[Operation]:
        connection = await RawConnection(parts.hostname, parts.port).open()

        async def operation() -> bool | int:
            method, path, body, headers = make_request()
            status = await connection.request(method, path, body, headers)
            return True if status == expect else status

        try:
            yield operation
        finally:
            connection.close()

    return connect


def shared_client(operation: Operation) -> Connect:
    """For in-process pairs: every client uses the same pooled driver (Redis, pymongo)."""

    @asynccontextmanager
    async def connect() -> AsyncIterator[Operation]:
        yield operation

    return connect
