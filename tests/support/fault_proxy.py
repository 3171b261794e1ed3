"""A TCP proxy in front of a real server, which a test can break and mend.

- ``down()``: the server is *stopped* — the listening socket closes (new connections are
  refused) and every open connection is reset;
- ``hang()``: the server is *hung* — connections are accepted, open ones stay open, but
  nothing passes in either direction (what a frozen process or a dead network path does);
- ``heal()``: everything passes again (on the same port).

It runs on the test's event loop, so the test must await (not block) while processes
under test talk through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket


class FaultProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._passing = asyncio.Event()
        self._passing.set()
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> FaultProxy:
        if not self.port:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", self.port, reuse_address=True)
        return self

    async def down(self) -> None:
        self._passing.set()
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._connections):
            writer.transport.abort()  # a reset, as from a stopped server
        self._connections.clear()

    async def hang(self) -> None:
        if self._server is None:
            await self.start()
        self._passing.clear()

    async def heal(self) -> None:
        if self._server is None:
            await self.start()
        self._passing.set()

    async def stop(self) -> None:
        await self.down()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._connections.add(client_writer)
        await self._passing.wait()  # hung: accepted, never answered
        try:
            server_reader, server_writer = await asyncio.open_connection(*self._target)
        except OSError:
            client_writer.transport.abort()
            return
        self._connections.add(server_writer)
        for pipe in (self._pipe(client_reader, server_writer), self._pipe(server_reader, client_writer)):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                await self._passing.wait()  # hung: what was sent is held, never delivered
                writer.write(chunk)
                await writer.drain()
        self._connections.discard(writer)
        writer.close()
