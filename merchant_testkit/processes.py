"""Running the product's own processes (``merchant serve ...``) from tests."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Service:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    url: str | None = None
    process: subprocess.Popen | None = None
    # The ops listener (/metrics, /ops/*), apart from the public port; None when off.
    ops_url: str | None = None

    def start(self) -> Service:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "merchant_cli.main", "serve", *self.args],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def wait_ready(self, timeout: float = 30.0) -> Service:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}:\n{self.tail()}")
            if self.url is None:
                return self
            try:
                if httpx.get(f"{self.url}/health/ready", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        # Not ready: kill it now, since no fixture finaliser will (the fixture never yielded);
        # a process left behind would load the machine for every later test.
        self.kill()
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {self.log_path}:\n{self.tail()}")

    def kill(self, sig: int = signal.SIGKILL, grace: float = 15.0) -> None:
        """Signal the process group; one still alive after ``grace`` seconds is SIGKILLed."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def http_service(name: str, component: str, env: dict[str, str], log_dir: Path) -> Service:
    """An API on a free port, its ops listener on another (``ops_url``)."""
    port, ops = free_port(), free_port()
    return Service(
        name,
        [component, "--port", str(port), "--metrics-port", str(ops)],
        env,
        log_dir / f"{name}.log",
        url=f"http://127.0.0.1:{port}",
        ops_url=f"http://127.0.0.1:{ops}",
    )


def stream_service(name: str, component: str, env: dict[str, str], log_dir: Path) -> Service:
    """A stream component, its ops listener on a free port (``ops_url``)."""
    ops = free_port()
    return Service(
        name, [component, "--metrics-port", str(ops)], env, log_dir / f"{name}.log", ops_url=f"http://127.0.0.1:{ops}"
    )
