"""Detached server processes tracked by pid files, and the waiting around them.

Every server runs as a child in its own session (so Ctrl-C in the shell that ran
``merchant infra up`` does not reach it), with stdout/stderr in ``run/logs/<name>.log`` and
its pid in ``run/pids/<name>.pid``. A pid file is trusted only while the process it names
still looks like ours, because pids are reused.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from infra import paths

T = TypeVar("T")
Check = Callable[[], tuple[bool, str]]


class InfraError(RuntimeError):
    """A server could not be installed, started or stopped; the message says where to look."""


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_sync(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion from synchronous code.

    Uses a worker thread when the caller already runs an event loop (pytest-asyncio
    fixtures call the manager), where ``asyncio.run`` would refuse.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def _is_ours(pid: int, markers: Sequence[str], written: float) -> bool:
    import psutil  # imported here: status of stopped servers needs no process table

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = proc.create_time()
        try:
            cwd = proc.cwd()
        except psutil.AccessDenied:
            cwd = ""
        haystack = " ".join(proc.cmdline()) + " " + cwd
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    # A process that reused the pid was created after we wrote the pid file (2 s of slack
    # for the coarse clock psutil derives create_time from).
    return created <= written + 2 and all(m in haystack for m in markers)


def read_pid(name: str, markers: Sequence[str]) -> int | None:
    """The pid from our pid file when that process is alive and still ours, else None.

    A stale pid file is removed, so a dead server reads as stopped.
    """
    pid_file = paths.pid_file(name)
    try:
        pid = int(pid_file.read_text().strip())
        written = pid_file.stat().st_mtime
    except (FileNotFoundError, ValueError):
        return None
    if _is_ours(pid, markers, written):
        return pid
    pid_file.unlink(missing_ok=True)
    return None


def _gone(pid: int, timeout: float) -> bool:
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True  # dead; its parent (or our reaper thread) collects it
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def stop(
    name: str, markers: Sequence[str], timeout: float = 30.0, first: signal.Signals = signal.SIGTERM
) -> int | None:
    """Stop the process in our pid file (``first``, then SIGKILL). Returns its pid, or None."""
    pid = read_pid(name, markers)
    if pid is not None:
        try:
            os.kill(pid, first)
            if not _gone(pid, timeout):
                os.kill(pid, signal.SIGKILL)
                if not _gone(pid, 10):
                    raise InfraError(f"{name} (pid {pid}) survived SIGKILL")
        except ProcessLookupError:
            pass  # exited on its own between the check and the signal
    paths.pid_file(name).unlink(missing_ok=True)
    return pid


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> subprocess.Popen:
    """Start a detached server process and record its pid (``user``: run as that user;
    the log and pid files stay ours)."""
    log = paths.log_file(name)
    log.parent.mkdir(parents=True, exist_ok=True)
    paths.pids().mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(map(str, argv))}\n".encode())
        out.flush()
        proc = subprocess.Popen(
            [str(a) for a in argv],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=_group_of(user),
            extra_groups=[] if user else None,
        )
    paths.pid_file(name).write_text(f"{proc.pid}\n")
    # Reap the child when it exits, so a long-lived caller (a test session) keeps no zombie
    # and proc.returncode tells wait_ready that it died. The thread never blocks exit.
    threading.Thread(target=proc.wait, name=f"reap-{name}", daemon=True).start()
    return proc


def _group_of(user: str | None) -> int | None:
    if user is None:
        return None
    import pwd

    return pwd.getpwnam(user).pw_gid


def wait_ready(
    name: str, check: Check, timeout: float, alive: Callable[[], bool] = lambda: True, interval: float = 0.3
) -> str:
    """Poll ``check`` until it succeeds; raise with the log's tail if it never does."""
    log = paths.log_file(name)
    deadline = time.monotonic() + timeout
    while True:
        if not alive():
            raise InfraError(f"{name} exited before becoming ready; see {log}\n{tail(log)}")
        ok, detail = check()
        if ok:
            return detail
        if time.monotonic() > deadline:
            raise InfraError(f"{name} not ready after {timeout:.0f} s ({detail}); see {log}\n{tail(log)}")
        time.sleep(interval)


def start_and_wait(
    name: str,
    argv: Sequence[str],
    markers: Sequence[str],
    check: Check,
    timeout: float,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    user: str | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
) -> int:
    """Spawn a server and wait for ``check``; a server that fails to get ready is stopped."""
    proc = spawn(name, argv, cwd=cwd, env=env, user=user)
    try:
        wait_ready(name, check, timeout, alive=lambda: proc.returncode is None)
    except BaseException:
        stop(name, markers, timeout=10, first=stop_signal)
        raise
    return proc.pid
