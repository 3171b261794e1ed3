"""One module per local server, all with the same small interface.

Each module has ``NAME``, ``address``, ``PORTS``, ``START_TIMEOUT`` and the functions
``installed() -> bool``, ``install()`` (idempotent, cached), ``start(timeout) -> pid``
(spawn and wait until healthy), ``stop() -> pid | None``, ``pid() -> pid | None`` (ours,
alive) and ``health() -> (ok, detail)``. Kafka also has ``setup()`` (create the topics).
"""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("kafka", "ferretdb", "redis", "smtp")


def load(name: str) -> ModuleType:
    if name not in NAMES:
        raise ValueError(f"unknown server {name!r}; choose from {', '.join(NAMES)}")
    return importlib.import_module(f"infra.servers.{name}")
