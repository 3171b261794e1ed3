"""PostgreSQL from Debian's ``postgresql`` package: the storage FerretDB runs on by default.

A private cluster of ours (``initdb`` into the data folder, UTF8 and C locale as FerretDB
requires), listening on loopback TCP only (no Unix socket), trust authentication for the
``postgres`` superuser, and no durability (fsync off): it is a development and test
server, like our Redis without persistence. PostgreSQL refuses to run as root, so as root
it runs as Debian's ``postgres`` user; when that user cannot reach the data folder (the
default home, /root, is private) the cluster lives in /var/lib/postgresql instead.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import threading
from pathlib import Path

from infra import apt, paths, process
from infra.process import InfraError

NAME = "postgresql"
HOST = "127.0.0.1"
PORT = paths.port("MERCHANT_POSTGRESQL_PORT", 5433)  # not 5432: leave a system cluster alone
PORTS = (PORT,)
address = f"{HOST}:{PORT}"
START_TIMEOUT = 60.0
SUPERUSER = "postgres"
DATABASE = "postgres"  # FerretDB keeps one schema per MongoDB database in it
SETTINGS = {
    "listen_addresses": HOST,
    "unix_socket_directories": "",
    # Throw-away data: no fsync, no WAL flush per commit, no full-page images.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",  # FerretDB pools up to 50 per instance
    # FerretDB stores a document as one jsonb value, compressed once over 2 kB (an order,
    # a day's counter): lz4 instead of pglz, several times cheaper to compress and to read.
    "default_toast_compression": "lz4",
}
_start_lock = threading.Lock()  # ferretdb.start() and the manager may both ask for us


# For FerretDB's sessions (a startup parameter, so a cluster we did not start gets it too):
# plan every statement with its values. pgx prepares each statement FerretDB sends; after
# five runs PostgreSQL may switch to a generic plan, costed once — on a table still small
# (a projector's catch-up creates its read models), a sequential scan — and kept until the
# table is next analysed. Measured: that plan read every counter per lookup while the read
# models grew (docs/benchmarks.md, "Projectors"). Custom plans cost a planning per statement
# (well under a millisecond for FerretDB's) and follow the table as it grows.
SESSION = {"plan_cache_mode": "force_custom_plan"}

# The planner's price of one jsonb containment test (``@>``, the function behind it), in
# cpu_operator_cost units. Our FerretDB build sends a top-level equality as ``_jsonb @> {f: v}
# OR _jsonb @> {f: [v]}`` through each table's GIN index (infra/ferretdb/patches), an $in as
# an OR of those. At PostgreSQL's default of 1 a test is costed like an integer comparison,
# so on a table of a few thousand documents the planner prefers a sequential scan testing
# every arm on every row — measured 2026-12-06 21:31 UTC on a catch-up's
# merchant_stats_counters (2,900 documents of ~1 kB, 10 keys = 20 arms, EXPLAIN ANALYZE):
# sequential scan 326 ms; the same statement at COST 100, a bitmap scan of the GIN index,
# 4.5 ms. There a test took ~5 us (326 ms over ~58,000 tests); at 100 the planner prices
# it at a quarter of a sequential page read (100 x cpu_operator_cost 0.0025), near that.
CONTAINMENT_COST = 100
TUNING = (f"ALTER FUNCTION pg_catalog.jsonb_contains(jsonb, jsonb) COST {CONTAINMENT_COST}",)


def url() -> str:
    query = "&".join(f"{key}={value}" for key, value in SESSION.items())
    return f"postgres://{SUPERUSER}@{address}/{DATABASE}?{query}"


def _bindir() -> Path | None:
    """Debian keeps the server binaries out of PATH, in /usr/lib/postgresql/<major>/bin."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    if found:
        return found[-1].parent
    on_path = shutil.which("postgres")
    return Path(on_path).resolve().parent if on_path else None


def _run_as() -> str | None:
    """The user the server runs as: ourselves, or Debian's ``postgres`` when we are root."""
    return SUPERUSER if os.geteuid() == 0 else None


def _reachable(path: Path, user: str | None) -> bool:
    if user is None:
        return True
    entry = pwd.getpwnam(user)
    for folder in [*reversed(path.parents)]:
        if not folder.exists():
            break
        st = folder.stat()
        if st.st_uid == entry.pw_uid:
            continue
        if not st.st_mode & (stat.S_IXGRP if st.st_gid == entry.pw_gid else stat.S_IXOTH):
            return False
    return True


def data_folder() -> Path:
    """Under the run folder when the server's user can reach it, else in its own home."""
    folder = paths.data(NAME)
    user = _run_as()
    if _reachable(folder, user):
        return folder
    tag = hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    return Path(pwd.getpwnam(user).pw_dir) / "merchant-infra" / tag


def _cluster() -> Path:
    return data_folder() / "data"


def _markers() -> tuple[str, ...]:
    return ("postgres", str(_cluster()))


def installed() -> bool:
    return _bindir() is not None


def install() -> Path:
    """apt-get install postgresql (only when missing). Returns the binaries' folder."""
    if not installed():
        apt.install(["postgresql"])
    bindir = _bindir()
    if bindir is None:
        raise InfraError("PostgreSQL is still missing after apt-get install postgresql")
    return bindir


def pid() -> int | None:
    return process.read_pid(NAME, _markers())


def _initdb(bindir: Path, user: str | None) -> None:
    cluster = _cluster()
    if (cluster / "PG_VERSION").exists():
        return
    folder = cluster.parent
    folder.mkdir(parents=True, exist_ok=True)
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    shutil.rmtree(cluster, ignore_errors=True)  # a half-made cluster from an interrupted run
    result = subprocess.run(
        [
            bindir / "initdb",
            "-D",
            cluster,
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        cwd=folder,
        user=user,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise InfraError(f"initdb failed:\n{(result.stdout + result.stderr)[-3000:]}")


def start(timeout: float = START_TIMEOUT) -> int:
    bindir = _bindir()
    if bindir is None:
        raise InfraError("PostgreSQL is not installed; run `merchant infra install`")
    with _start_lock:
        running = pid()
        if running is not None:  # started meanwhile by the other caller
            process.wait_ready(NAME, health, timeout, alive=lambda: pid() is not None)
            return running
        user = _run_as()
        _initdb(bindir, user)
        settings = [arg for key, value in SETTINGS.items() for arg in ("-c", f"{key}={value}")]
        argv = [bindir / "postgres", "-D", _cluster(), "-p", str(PORT), *settings]
        started = process.start_and_wait(
            NAME, argv, _markers(), health, timeout, cwd=_cluster(), user=user, stop_signal=signal.SIGINT
        )
        tune()
        return started


def tune() -> None:
    """Apply ``TUNING`` (kept in the cluster's catalog; idempotent). A server that refuses
    (not ours, no superuser) keeps PostgreSQL's defaults: slower plans, same answers."""
    bindir = _bindir()
    if bindir is None:
        return
    for statement in TUNING:
        result = subprocess.run(
            [bindir / "psql", "-h", HOST, "-p", str(PORT), "-U", SUPERUSER, "-d", DATABASE, "-Atqc", statement],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            print(f"postgresql: could not apply {statement!r}: {result.stderr.strip()[:300]}")


def ensure_started(timeout: float = START_TIMEOUT) -> None:
    """For FerretDB: start the cluster unless it (or an external server on our port) answers."""
    if pid() is None and not process.port_open(HOST, PORT):
        install()
        start(timeout)
    else:
        process.wait_ready(NAME, health, timeout)
        tune()  # a cluster started by an earlier version of this code, or by someone else


def stop() -> int | None:
    # SIGINT is PostgreSQL's "fast" shutdown: SIGTERM would wait for FerretDB's pooled
    # connections to go away.
    return process.stop(NAME, _markers(), timeout=30, first=signal.SIGINT)


def reset() -> None:
    """``down --reset``: the cluster may live outside the run folder."""
    shutil.rmtree(data_folder(), ignore_errors=True)


def health() -> tuple[bool, str]:
    """Healthy means ``pg_isready`` says the server accepts connections."""
    if not process.port_open(HOST, PORT):
        return False, f"nothing listens on {address}"
    bindir = _bindir()
    if bindir is None:
        return False, "pg_isready not installed"
    result = subprocess.run(
        [bindir / "pg_isready", "-h", HOST, "-p", str(PORT), "-U", SUPERUSER, "-d", DATABASE],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        return False, result.stdout.strip() or f"pg_isready exited {result.returncode}"
    return True, f"accepting connections, PostgreSQL {bindir.parent.name}, data {_cluster()}"
