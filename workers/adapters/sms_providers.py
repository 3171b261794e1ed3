"""SMS providers. Development uses a sink that records what it was given.

``provider_for(url)``: ``file:///path/sms.jsonl`` appends one JSON line per message;
``http(s)://...`` POSTs ``{"to", "text", "message_id"}`` to a gateway (a real provider's
adapter implements the same ``send``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlparse

import httpx
import orjson

from workers.application.policy import PermanentError
from workers.application.ports import SmsProvider


class FileSink:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()

    async def send(self, to: str, text: str, message_id: str) -> None:
        line = orjson.dumps({"to": to, "text": text, "message_id": message_id}) + b"\n"
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)  # here, not at start: building it writes nothing
        with self.path.open("ab") as f:
            f.write(line)

    async def close(self) -> None:
        pass


class HttpSink:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.client = httpx.AsyncClient(timeout=timeout)

    async def send(self, to: str, text: str, message_id: str) -> None:
        response = await self.client.post(
            self.url, json={"to": to, "text": text, "message_id": message_id}, headers={"Idempotency-Key": message_id}
        )
        if 400 <= response.status_code < 500 and response.status_code != 429:
            raise PermanentError(f"SMS gateway refused: {response.status_code} {response.text[:200]}")
        response.raise_for_status()

    async def close(self) -> None:
        await self.client.aclose()


def provider_for(url: str, timeout: float = 10.0) -> SmsProvider:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return FileSink(Path((parsed.netloc + parsed.path) if parsed.netloc == "." else parsed.path))
    if parsed.scheme in ("http", "https"):
        return HttpSink(url, timeout)
    raise ValueError(f"unsupported SMS sink {url!r}: use file:// or http(s)://")
