"""One module per local server, all with the same small interface.

Each module has ``NAME``, ``address``, ``PORTS``, ``START_TIMEOUT`` and the functions
``installed() -> bool``, ``install()`` (idempotent, cached), ``start(timeout) -> pid``
(spawn and wait until healthy), ``stop() -> pid | None``, ``pid() -> pid | None`` (ours,
alive) and ``health() -> (ok, detail)``. Kafka also has ``setup()`` (create the topics);
PostgreSQL has ``reset()`` (its data may live outside the run folder).

PostgreSQL is one of the servers only while FerretDB stores its data there (the default;
``MERCHANT_FERRETDB_BACKEND=sqlite`` leaves it out).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ALL_NAMES = ("kafka", "postgresql", "ferretdb", "redis", "smtp")
_ON_POSTGRESQL = os.environ.get("MERCHANT_FERRETDB_BACKEND", "postgresql") == "postgresql"
NAMES = tuple(n for n in ALL_NAMES if n != "postgresql" or _ON_POSTGRESQL)


def load(name: str) -> ModuleType:
    if name not in ALL_NAMES:
        raise ValueError(f"unknown server {name!r}; choose from {', '.join(ALL_NAMES)}")
    return importlib.import_module(f"infra.servers.{name}")
