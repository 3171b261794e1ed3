"""Where the local servers keep their installed artifacts and their data.

Everything lives outside the repository (``~/.cache/merchant-infra`` unless
``MERCHANT_INFRA_HOME`` says otherwise): ``artifacts/`` is reused across runs and a fresh
machine rebuilds it; ``run/`` holds data, logs and pid files and can be wiped at will.
The functions read the environment on every call so tests can point them elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    configured = os.environ.get("MERCHANT_INFRA_HOME")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "merchant-infra"


def artifacts() -> Path:
    """Installed things, one entry per version (Kafka jars, the FerretDB binary)."""
    return home() / "artifacts"


def run() -> Path:
    """Everything a running stack writes; ``reset`` deletes it, never the artifacts.

    ``MERCHANT_INFRA_RUN`` moves it, so a test can run a private second server (on other
    ports, see ``port``) from the same installed artifacts.
    """
    configured = os.environ.get("MERCHANT_INFRA_RUN")
    return Path(configured).expanduser() if configured else home() / "run"


def port(variable: str, default: int) -> int:
    """A server's port: the default of the environment contract, or ``MERCHANT_<X>_PORT``."""
    return int(os.environ.get(variable, default))


def data(name: str) -> Path:
    return run() / name


def logs() -> Path:
    return run() / "logs"


def log_file(name: str) -> Path:
    return logs() / f"{name}.log"


def pids() -> Path:
    return run() / "pids"


def pid_file(name: str) -> Path:
    return pids() / f"{name}.pid"


def source(*parts: str) -> Path:
    """A file shipped inside the ``infra`` package (pom.xml, Go module, config templates)."""
    return Path(__file__).resolve().parent.joinpath(*parts)
