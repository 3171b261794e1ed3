"""A minimal HTTP/1.1 keep-alive client for open-loop load (httpx costs ~1 ms of CPU per
request, which on a 2-core machine would measure the client, not the server)."""

from __future__ import annotations

import asyncio


class RawConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def open(self) -> RawConnection:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def get(self, path: str) -> int:
        """Send a GET and read the whole answer; returns the status."""
        return await self.request("GET", path)

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None) -> int:
        """Send one request (a body is sent as JSON) and read the whole answer; returns the status."""
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
        for name, value in (headers or {}).items():
            head += f"{name}: {value}\r\n"
        if body:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode() + b"\r\n" + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        if length:
            await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        if self.writer:
            self.writer.close()


async def open_loop(host: str, port: int, paths: list[str], rate: int, seconds: int, connections: int = 32) -> dict:
    """Offer ``rate`` requests/s for ``seconds``; latency counts from the scheduled send time
    (a request that waits for a free connection is late, and that lateness is counted)."""
    import random

    loop = asyncio.get_running_loop()
    pool: asyncio.Queue[RawConnection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await RawConnection(host, port).open())
    latencies: list[float] = []
    errors = 0
    rng = random.Random(3)
    begin = loop.time() + 0.05
    tasks = []

    async def one(at: float, path: str) -> None:
        nonlocal errors
        conn = await pool.get()
        try:
            errors += await conn.get(path) != 200
        except Exception:
            errors += 1
            conn = await RawConnection(host, port).open()
        finally:
            pool.put_nowait(conn)
        latencies.append(loop.time() - at)

    for i in range(rate * seconds):
        at = begin + i / rate
        await asyncio.sleep(max(0.0, at - loop.time()))
        tasks.append(asyncio.create_task(one(at, rng.choice(paths))))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - begin
    while not pool.empty():
        pool.get_nowait().close()
    ordered = sorted(latencies)
    return {
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[int(len(ordered) * 0.99)],
        "errors": errors,
        "sent": len(ordered),
        "achieved": len(ordered) / elapsed,
    }


async def closed_loop(host: str, port: int, paths: list[str], concurrency: int = 8) -> tuple[list[float], float]:
    """Each path once, ``concurrency`` at a time; (latencies, requests/s)."""
    loop = asyncio.get_running_loop()
    queue = list(reversed(paths))
    latencies: list[float] = []

    async def worker() -> None:
        conn = await RawConnection(host, port).open()
        try:
            while queue:
                path = queue.pop()
                t = loop.time()
                status = await conn.get(path)
                latencies.append(loop.time() - t)
                assert status == 200, (path, status)
        finally:
            conn.close()

    t = loop.time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, len(paths) / (loop.time() - t)
