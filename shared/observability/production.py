"""What production mode (``MERCHANT_ENV=production`` or ``merchant serve --prod``) changes
for the clients. Development keeps the drivers' defaults: small pools start fast.

MongoDB: a pool of 10 to 100 connections; wire compression offered to the server (zstd
when the ``backports.zstd``/``zstandard`` module is installed, zlib always: it is in the
standard library). Compression is *negotiated* in the handshake — a server that offers
none (FerretDB v1.24 does not) simply gets uncompressed messages. Retryable reads and
writes stay on: verified against FerretDB v1.24, which announces sessions in ``hello``
and accepts the retryable-write fields although it has no transactions.

Redis: one pool per client with up to 100 connections (redis-py pools by default; the
cap keeps a burst from opening thousands of sockets).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from shared.observability.settings import ObservabilitySettings


def _compressors() -> str:
    """zstd where pymongo can use it (it asks for ``compression.zstd``/``backports.zstd``,
    not the ``zstandard`` package, and warns at every connection otherwise), then zlib."""
    zstd = _has("compression.zstd") or _has("backports.zstd")
    return "zstd,zlib" if zstd else "zlib"


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def mongo_options(settings: ObservabilitySettings | None = None) -> dict[str, Any]:
    settings = settings or ObservabilitySettings()
    options: dict[str, Any] = {"retryWrites": True, "retryReads": True}
    if settings.production:
        options.update(
            maxPoolSize=100, minPoolSize=10, compressors=_compressors(), zlibCompressionLevel=1
        )  # level 1: most of the gain for little CPU
    return options


def redis_options(settings: ObservabilitySettings | None = None) -> dict[str, Any]:
    settings = settings or ObservabilitySettings()
    return {"max_connections": 100, "health_check_interval": 30} if settings.production else {}
