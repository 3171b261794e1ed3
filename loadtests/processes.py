"""Which processes a load run's CPU goes to: the servers and, on a running stack, our services.

A server is found by the port the run talks to (``MONGODB_URL``, ``KAFKA_BOOTSTRAP_SERVERS``,
``REDIS_URL``, ``SMTP_URL``; PostgreSQL on ``infra``'s port): the process that listens on it,
so a private FerretDB on another port is the one counted. When the listeners cannot be read
(``psutil.net_connections`` needs the rights to see other users' sockets), ``infra``'s pid
files name our servers instead. A process found neither way is left out, never guessed: the
CPU table's "not attributed" row then shows it. Counting a process "with its children" is
``loadtests.ops.cpu_seconds``' job (the PostgreSQL postmaster and every backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import psutil

# The names the CPU table shows, and the infra server each stands for.
SERVERS = {
    "FerretDB": "ferretdb",
    "PostgreSQL (postmaster + children)": "postgresql",
    "Kafka (JVM)": "kafka",
    "Redis": "redis",
    "SMTP dev server": "smtp",
}


def port_of(url: str | None) -> int | None:
    """The port of ``mongodb://h:27017/db``, ``h:9092,h2:9092`` (the first) or ``http://h:8001``."""
    if not url:
        return None
    first = url.split(",")[0]
    try:
        return urlsplit(first if "://" in first else f"//{first}").port
    except ValueError:
        return None


def root_listener(listeners: Mapping[int, int]) -> int | None:
    """Of the pids listening on one port (pid -> parent pid), the one whose parent is not
    among them: a server that forks workers sharing its socket is named by its root."""
    roots = [pid for pid, parent in listeners.items() if parent not in listeners]
    return min(roots) if roots else None


def listeners(port: int) -> dict[int, int]:
    """pid -> parent pid of every process listening on ``port`` (empty if not allowed to see)."""
    found: dict[int, int] = {}
    try:
        connections = psutil.net_connections(kind="tcp")
    except psutil.AccessDenied:
        return found
    for c in connections:
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            try:
                found[c.pid] = psutil.Process(c.pid).ppid()
            except psutil.Error:
                continue
    return found


def listener_pid(port: int | None) -> int | None:
    return root_listener(listeners(port)) if port else None


def server_ports(env: Mapping[str, str]) -> dict[str, int | None]:
    """infra server name -> the port the run talks to it on."""
    from infra.servers import postgresql

    return {
        "ferretdb": port_of(env.get("MONGODB_URL")),
        "postgresql": postgresql.PORT,
        "kafka": port_of(env.get("KAFKA_BOOTSTRAP_SERVERS")),
        "redis": port_of(env.get("REDIS_URL")),
        "smtp": port_of(env.get("SMTP_URL")),
    }


def _pid_file(server: str) -> int | None:
    from infra.servers import load

    try:
        return load(server).pid()
    except Exception:  # an unreadable pid file is a server not found, not a failed run
        return None


def server_pids(env: Mapping[str, str]) -> dict[str, int]:
    """Table name -> pid of each server the run uses that could be found."""
    ports = server_ports(env)
    found = {}
    for label, server in SERVERS.items():
        pid = listener_pid(ports[server]) or _pid_file(server)
        if pid:
            found[label] = pid
    return found


def service_pids(urls: Mapping[str, str | None]) -> dict[str, int]:
    """A running stack's services (component -> one of its URLs: API or ops listener) by the
    process listening on that URL's port; the ones not found are left out."""
    found = {}
    for component, url in urls.items():
        if pid := listener_pid(port_of(url)):
            found[component] = pid
    return found
