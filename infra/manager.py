"""Install, start, stop and inspect the local servers together.

``up`` is idempotent: a server of ours that is running and healthy is left alone, and a
port that already answers from a process that is not ours (docker-compose, systemd) is
reported as ``external`` and used, never fought over. ``down`` stops only the processes
named in our pid files. The servers start in parallel (Kafka is the slowest).
"""

from __future__ import annotations

import fcntl
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TypeVar

from infra import paths, process
from infra.process import InfraError
from infra.servers import NAMES, load

__all__ = ["NAMES", "InfraError", "ServerStatus", "UpError", "down", "environment", "install", "status", "up"]

T = TypeVar("T")
Progress = Callable[[str, str], None]  # (server name, message)


@dataclass(frozen=True)
class ServerStatus:
    name: str
    state: str  # "running" (ours), "external" (not ours, on our port), "stopped", "failed"
    healthy: bool
    detail: str
    address: str
    pid: int | None
    log: Path


class UpError(InfraError):
    """Some server did not come up; ``statuses`` tells which, the message says why."""

    def __init__(self, message: str, statuses: list[ServerStatus]) -> None:
        super().__init__(message)
        self.statuses = statuses


def environment() -> dict[str, str]:
    """The environment contract (INFRA.md) pointing at the local servers."""
    from infra.servers import ferretdb, kafka, redis, smtp

    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.address,
        "MONGODB_URL": f"mongodb://{ferretdb.address}",
        "REDIS_URL": f"redis://{redis.address}/0",
        "SMTP_URL": f"smtp://{smtp.address}",
        "MAILBOX_API_URL": smtp.http_address,
    }  # the Mailpit-like API the tests read mail from


@contextmanager
def _locked() -> Iterator[None]:
    """One manager at a time per home: two test workers calling up() must not both start Kafka."""
    home = paths.home()
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _chosen(names: Iterable[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(names or NAMES))
    for name in chosen:
        load(name)  # raises ValueError for an unknown name
    return chosen


def _parallel(fn: Callable[[str], T], names: list[str]) -> dict[str, T | Exception]:
    results: dict[str, T | Exception] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        futures = {name: pool.submit(fn, name) for name in names}
        for name, future in futures.items():
            try:
                results[name] = future.result()
            except Exception as exc:  # reported per server; the others carry on
                results[name] = exc
    return results


def _address(server: ModuleType) -> str:
    http_port = getattr(server, "HTTP_PORT", None)  # the SMTP catcher also serves HTTP
    return f"{server.address} (HTTP :{http_port})" if http_port else server.address


def _status(name: str) -> ServerStatus:
    server = load(name)
    pid = server.pid()
    if pid is not None:
        state = "running"
    elif any(process.port_open(server.HOST, port) for port in server.PORTS):
        state = "external"
    else:
        detail = "not running" if server.installed() else "not installed"
        return ServerStatus(name, "stopped", False, detail, _address(server), None, paths.log_file(name))
    ok, detail = server.health()
    return ServerStatus(name, state, ok, detail, _address(server), pid, paths.log_file(name))


def status(names: Iterable[str] | None = None) -> list[ServerStatus]:
    """Where each server stands; checks run in parallel so a dead one costs no more."""
    chosen = _chosen(names)
    results = _parallel(_status, chosen)
    return [
        r
        if isinstance(r, ServerStatus)
        else ServerStatus(n, "failed", False, str(r), _address(load(n)), None, paths.log_file(n))
        for n, r in results.items()
    ]


def to_be_started(before: Iterable[ServerStatus]) -> list[str]:
    """The servers ``up`` will start, given the status taken just before it: the stopped
    ones only. A server that runs but answers slowly (unhealthy) is waited for, not
    started — so it is not ours to stop afterwards."""
    return [s.name for s in before if s.state == "stopped"]


def _install_one(name: str, say: Callable[[str], None]) -> None:
    server = load(name)
    if server.installed():
        return
    say("installing (cached for the next runs)")
    began = time.monotonic()
    server.install()
    say(f"installed in {time.monotonic() - began:.1f} s")


def install(names: Iterable[str] | None = None, *, progress: Progress | None = None) -> None:
    """Install what is missing (Kafka jars, FerretDB binary, PostgreSQL, redis-server and kcat)."""
    chosen = _chosen(names)
    with _locked():
        results = _parallel(lambda n: _install_one(n, _say(progress, n)), chosen)
    failures = [f"{n}: {r}" for n, r in results.items() if isinstance(r, Exception)]
    if failures:
        raise InfraError("\n\n".join(failures))


def _say(progress: Progress | None, name: str) -> Callable[[str], None]:
    return (lambda message: progress(name, message)) if progress else (lambda message: None)


def _up_one(name: str, progress: Progress | None, timeout: float | None) -> ServerStatus:
    server, say = load(name), _say(progress, name)
    current = _status(name)
    if current.state == "running" and not current.healthy:
        say(f"already started (pid {current.pid}), waiting until it answers")
        process.wait_ready(name, server.health, timeout or server.START_TIMEOUT, alive=lambda: server.pid() is not None)
    elif current.state == "external":
        if not current.healthy:
            # Maybe a container still starting (docker-compose), maybe a stranger on our port.
            say(f"{server.address} is in use by a process that is not ours; waiting until it answers")
            try:
                process.wait_ready(name, server.health, timeout or server.START_TIMEOUT)
            except InfraError:
                raise InfraError(
                    f"{server.address} is in use by a process that is not ours and does not "
                    f"answer as {name} ({current.detail}); stop it or free the port"
                ) from None
        say(f"an external server answers on {server.address}; using it, not starting another")
    elif current.state == "stopped":
        _install_one(name, say)
        say("starting")
        began = time.monotonic()
        server.start(timeout or server.START_TIMEOUT)
        say(f"ready in {time.monotonic() - began:.1f} s")
        return _status(name)
    if hasattr(server, "setup"):  # e.g. Kafka topics, also on a server that was already up
        server.setup()
    return _status(name)


def up(
    names: Iterable[str] | None = None, *, progress: Progress | None = None, timeout: float | None = None
) -> list[ServerStatus]:
    """Install if needed, start what is not running, wait until all are healthy.

    Raises UpError (with every server's status) if any server does not become ready; the
    servers that did come up are left running, so a retry only redoes the failed ones.
    """
    chosen = _chosen(names)
    with _locked():
        results = _parallel(lambda n: _up_one(n, progress, timeout), chosen)
    statuses, failures = [], []
    for name, result in results.items():
        if isinstance(result, Exception):
            failures.append(f"{name}: {result}")
            statuses.append(
                ServerStatus(
                    name, "failed", False, str(result).splitlines()[0], _address(load(name)), None, paths.log_file(name)
                )
            )
        else:
            statuses.append(result)
    if failures:
        raise UpError("\n\n".join(failures), statuses)
    return statuses


def down(names: Iterable[str] | None = None, *, reset: bool = False) -> dict[str, int | None]:
    """Stop our servers (only the pids in our pid files). Returns name -> stopped pid or None.

    ``reset`` also deletes their data (all of run/ when every server is named), never the
    installed artifacts: the next ``up`` starts empty but fast.
    """
    chosen = _chosen(names)
    with _locked():
        results = _parallel(lambda n: load(n).stop(), chosen)
        failures = [f"{n}: {r}" for n, r in results.items() if isinstance(r, Exception)]
        if failures:
            raise InfraError("\n".join(failures))
        if reset:
            for name in chosen:  # a server whose data may live elsewhere cleans it up itself
                getattr(load(name), "reset", lambda: None)()
            targets = [paths.run()] if set(chosen) == set(NAMES) else [paths.data(n) for n in chosen]
            for target in targets:
                shutil.rmtree(target, ignore_errors=True)
    return results  # type: ignore[return-value]  # no exceptions left
