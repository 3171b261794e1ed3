"""The development SMTP catcher (infra/smtp_server.py): SMTP on 1025, HTTP API on 8025.

Nothing to install beyond the project's Python dependencies (aiosmtpd, starlette,
uvicorn); it runs with the same interpreter as the caller.
"""

from __future__ import annotations

import json
import os
import smtplib
import sys
import urllib.request

from infra import paths, process
from infra.process import InfraError

NAME = "smtp"
HOST = "127.0.0.1"
PORT = paths.port("MERCHANT_SMTP_PORT", 1025)
HTTP_PORT = paths.port("MERCHANT_SMTP_HTTP_PORT", 8025)
PORTS = (PORT, HTTP_PORT)
address = f"{HOST}:{PORT}"
http_address = f"http://{HOST}:{HTTP_PORT}"
START_TIMEOUT = 20.0


def _markers() -> tuple[str, ...]:
    return ("infra.smtp_server", str(paths.data(NAME)))


def installed() -> bool:
    import importlib.util

    return all(importlib.util.find_spec(m) for m in ("aiosmtpd", "starlette", "uvicorn"))


def install() -> str:
    """Nothing to fetch: check the Python dependencies are there."""
    if not installed():
        raise InfraError("aiosmtpd/starlette/uvicorn missing: pip install -e . in the project venv")
    return sys.executable


def pid() -> int | None:
    return process.read_pid(NAME, _markers())


def start(timeout: float = START_TIMEOUT) -> int:
    install()
    folder = paths.data(NAME)
    folder.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable,
        "-m",
        "infra.smtp_server",
        "--smtp",
        address,
        "--http",
        f"{HOST}:{HTTP_PORT}",
        "--maildir",
        folder,
    ]
    # The package may not be installed (a plain checkout): make `-m infra...` importable.
    root = str(paths.source().parent)
    pythonpath = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
    return process.start_and_wait(NAME, argv, _markers(), health, timeout, cwd=folder, env={"PYTHONPATH": pythonpath})


def stop() -> int | None:
    return process.stop(NAME, _markers(), timeout=10)


def health() -> tuple[bool, str]:
    """Healthy means SMTP answers EHLO and the HTTP API lists messages."""
    if not process.port_open(HOST, PORT):
        return False, f"nothing listens on {address}"
    try:
        with smtplib.SMTP(HOST, PORT, timeout=3) as client:
            code, _ = client.ehlo("merchant-infra")
        if code != 250:
            return False, f"EHLO answered {code}"
        with urllib.request.urlopen(f"{http_address}/api/v1/messages?limit=1", timeout=3) as resp:
            total = json.load(resp)["total"]
    except Exception as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return True, f"EHLO ok, HTTP API ok ({total} messages)"
