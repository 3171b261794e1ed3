"""FerretDB v1: a MongoDB wire-protocol server built from the Go module proxy.

No real MongoDB can be installed here, so ``install`` builds the small wrapper in
infra/ferretdb (see main.go for why a wrapper) once and caches the binary per version
and patch set. Its storage is PostgreSQL by default (filters on scalar fields run in
PostgreSQL instead of a scan in Go; see docs/operations.md for the measurements) or
SQLite: ``MERCHANT_FERRETDB_BACKEND=postgresql|sqlite``. ``MERCHANT_FERRETDB_PPROF=<host:port>``
serves Go's ``/debug/pprof`` from it (docs/operations.md, "Profiling"; off by default).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

from infra import paths, process
from infra.process import InfraError

NAME = "ferretdb"
HOST = "127.0.0.1"
PORT = paths.port("MERCHANT_FERRETDB_PORT", 27017)
PORTS = (PORT,)
address = f"{HOST}:{PORT}"
START_TIMEOUT = 30.0
BACKENDS = ("postgresql", "sqlite")
BACKEND = os.environ.get("MERCHANT_FERRETDB_BACKEND", "postgresql")
if BACKEND not in BACKENDS:
    raise InfraError(f"MERCHANT_FERRETDB_BACKEND={BACKEND!r}: choose {' or '.join(BACKENDS)}")
PPROF = os.environ.get("MERCHANT_FERRETDB_PPROF", "")
# Go's collector, unless the environment sets it: FerretDB v1 allocates a Go value for every
# field of every document it decodes and keeps almost none, so at Go's default (a collection
# whenever the heap doubles) perf put 79 % of its samples in Go's runtime (the collector and
# the allocator) and the kernel's clearing of the pages under it, in issue 15's catch-up
# (2026-12-07 02:24 UTC). A collection when the heap has grown 4x, and a soft ceiling that
# makes it collect harder before the machine runs short (docs/operations.md).
GO_GC = {"GOGC": "400", "GOMEMLIMIT": "4GiB"}


def environment(inherited: Mapping[str, str]) -> dict[str, str]:
    """What FerretDB's process gets on top of ``inherited``: no telemetry (belt and braces)
    and ``GO_GC``, each setting only where ``inherited`` does not choose it."""
    return {"DO_NOT_TRACK": "1"} | {k: v for k, v in GO_GC.items() if k not in inherited}


def version() -> str:
    """The FerretDB version required by infra/ferretdb/go.mod."""
    match = re.search(r"github\.com/FerretDB/FerretDB v(\S+)", paths.source("ferretdb", "go.mod").read_text())
    if not match:
        raise InfraError("infra/ferretdb/go.mod does not require github.com/FerretDB/FerretDB")
    return match.group(1)


def _patches() -> list[Path]:
    """Fixes to FerretDB's own code, applied to a vendored copy at build time (see each file)."""
    return sorted(paths.source("ferretdb", "patches").glob("*.patch"))


def binary() -> Path:
    # A digest of the wrapper and the patches is in the name: a machine whose build
    # predates a change to either rebuilds.
    digest = hashlib.sha256()
    for source in [paths.source("ferretdb", name) for name in ("go.mod", "main.go")] + _patches():
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return paths.artifacts() / f"ferretdb-v{version()}-{digest.hexdigest()[:10]}"


def _markers() -> tuple[str, ...]:
    # "ferretdb-v": any of our builds; the working directory (our data folder) tells ours.
    return ("ferretdb-v", str(paths.data(NAME)))


def _go() -> str:
    found = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if Path(p).exists()), None)
    if not found:
        raise InfraError("`go` is not installed (building FerretDB needs Go)")
    return found


def installed() -> bool:
    return binary().exists()


def install() -> Path:
    """Build the patched FerretDB binary into artifacts/ (cached; the first build takes minutes).

    The wrapper module is copied to a scratch folder, its dependencies vendored there
    (from the Go module cache), our patches applied to the vendored FerretDB, and the
    binary built from that copy; the repository is never modified.
    """
    target = binary()
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")  # renamed only once complete
    with tempfile.TemporaryDirectory(prefix="ferretdb-build-", dir=target.parent) as scratch:
        for name in ("go.mod", "go.sum", "main.go"):
            shutil.copy2(paths.source("ferretdb", name), scratch)
        _run([_go(), "mod", "vendor"], scratch, "vendoring FerretDB's dependencies")
        vendored = Path(scratch, "vendor", "github.com", "FerretDB", "FerretDB")
        for patch in _patches():
            _run(["git", "apply", "-p1", str(patch)], vendored, f"applying {patch.name}")
        # Both backends are compiled in; -buildvcs=false: no repository around the copy.
        _run(
            [_go(), "build", "-mod=vendor", "-trimpath", "-buildvcs=false", "-o", str(partial), "."],
            scratch,
            "building FerretDB",
        )
    partial.rename(target)
    return target


def _run(argv: list, cwd: str | Path, what: str) -> None:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise InfraError(f"{what} failed:\n{(result.stdout + result.stderr)[-3000:]}")


def pid() -> int | None:
    return process.read_pid(NAME, _markers())


def start(timeout: float = START_TIMEOUT) -> int:
    if not installed():
        raise InfraError("FerretDB is not installed; run `merchant infra install`")
    folder = paths.data(NAME)
    folder.mkdir(parents=True, exist_ok=True)
    argv = [binary(), "-listen", address, "-handler", BACKEND]
    if PPROF:
        argv += ["-pprof-listen", PPROF]
    if BACKEND == "postgresql":
        from infra.servers import postgresql

        postgresql.ensure_started()
        argv += ["-postgresql-url", postgresql.url()]
    else:
        argv += ["-data-dir", folder]
    return process.start_and_wait(NAME, argv, _markers(), health, timeout, cwd=folder, env=environment(os.environ))


def stop() -> int | None:
    return process.stop(NAME, _markers(), timeout=15)


def health() -> tuple[bool, str]:
    """Healthy means a MongoDB ``ping`` answers (works the same against real MongoDB)."""
    if not process.port_open(HOST, PORT):
        return False, f"nothing listens on {address}"
    from pymongo import MongoClient

    client = MongoClient(
        f"mongodb://{address}/", directConnection=True, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
    )
    try:
        client.admin.command("ping")
        info = client.admin.command("buildInfo")
    except Exception as exc:
        return False, f"ping failed: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    if "ferretdbVersion" not in info:
        return True, f"ping ok, MongoDB {info.get('version')}"
    # Our wrapper names its backend in buildInfo (builds before it did not).
    backend = info.get("buildEnvironment", {}).get("backend", "unknown backend")
    return True, f"ping ok, FerretDB {info['ferretdbVersion']} on {backend} (reports MongoDB {info.get('version')})"
