"""A TCP proxy between a process under test and its MongoDB server that can stop passing
the server's replies on: what the process sent is executed, what it would learn is held.

Used to kill a command API *in the middle of a group commit*: the proxy holds replies
from the moment the process sends an insert of several commit documents, so that insert
is done on the server while the API still waits for its answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


def several_commits(chunk: bytes) -> bool:
    """An insert into ``commits`` carrying at least two documents (each has an ObjectId ``_id``)."""
    return b"commits\x00" in chunk and chunk.count(b"\x07_id\x00") >= 2


class ReplyHoldingProxy:
    def __init__(self, target_host: str, target_port: int, hold_when: Callable[[bytes], bool]) -> None:
        self._target, self._hold_when = (target_host, target_port), hold_when
        self.holding = asyncio.Event()  # set once replies are held
        self.armed = False  # hold only once armed (the set-up traffic passes)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    async def start(self) -> ReplyHoldingProxy:
        self._server = await asyncio.start_server(self._connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def _connect(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(*self._target)
        for pipe in (self._to_server(client_reader, server_writer), self._to_client(server_reader, client_writer)):
            task = asyncio.create_task(pipe)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _to_server(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                if self.armed and not self.holding.is_set() and self._hold_when(chunk):
                    self.holding.set()  # from now on the process learns nothing more
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def _to_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                if self.holding.is_set():
                    continue  # held: never delivered
                writer.write(chunk)
                await writer.drain()
        writer.close()
