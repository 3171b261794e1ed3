"""Redis from Debian's ``redis-server``, in memory only (no RDB, no AOF).

``install`` also installs ``kcat``: it is not a server, but people and some tests use it
to check topics from outside the project, and one apt-get run serves both.
"""

from __future__ import annotations

import shutil

from infra import apt, paths, process
from infra.process import InfraError

NAME = "redis"
HOST = "127.0.0.1"
PORT = paths.port("MERCHANT_REDIS_PORT", 6379)
PORTS = (PORT,)
address = f"{HOST}:{PORT}"
START_TIMEOUT = 20.0
APT_PACKAGES = {"redis-server": "redis-server", "kcat": "kcat"}  # package -> command it provides


def _markers() -> tuple[str, ...]:
    # Redis rewrites its command line to "redis-server 127.0.0.1:6379"; the working
    # directory (--dir, our data folder) tells our instance from a system one.
    return ("redis-server", f":{PORT}", str(paths.data(NAME)))


def installed() -> bool:
    return all(shutil.which(cmd) for cmd in APT_PACKAGES.values())


def install() -> str:
    """apt-get the missing packages (only when missing). Returns the redis-server path."""
    apt.install(pkg for pkg, cmd in APT_PACKAGES.items() if not shutil.which(cmd))
    server = shutil.which("redis-server")
    if not server:
        raise InfraError("redis-server is still missing after apt-get install")
    return server


def pid() -> int | None:
    return process.read_pid(NAME, _markers())


def start(timeout: float = START_TIMEOUT) -> int:
    server = shutil.which("redis-server")
    if not server:
        raise InfraError("redis-server is not installed; run `merchant infra install`")
    folder = paths.data(NAME)
    folder.mkdir(parents=True, exist_ok=True)
    # In the foreground (not --daemonize) so the pid we record is the server itself.
    argv = [
        server,
        "--bind",
        HOST,
        "--port",
        str(PORT),
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "no",
        "--dir",
        folder,
    ]
    return process.start_and_wait(NAME, argv, _markers(), health, timeout, cwd=folder)


def stop() -> int | None:
    return process.stop(NAME, _markers(), timeout=10)


def health() -> tuple[bool, str]:
    """Healthy means PING answers PONG."""
    if not process.port_open(HOST, PORT):
        return False, f"nothing listens on {address}"
    import redis

    client = redis.Redis(host=HOST, port=PORT, socket_timeout=2, socket_connect_timeout=2)
    try:
        if not client.ping():
            return False, "PING got no PONG"
        return True, f"PONG, Redis {client.info('server').get('redis_version')}"
    except Exception as exc:
        return False, f"PING failed: {type(exc).__name__}: {exc}"
    finally:
        client.close()
