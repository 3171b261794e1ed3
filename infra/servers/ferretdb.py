"""FerretDB v1 on SQLite: a MongoDB wire-protocol server built from the Go module proxy.

No real MongoDB can be installed here, so ``install`` builds the small wrapper in
infra/ferretdb (see main.go for why a wrapper) once and caches the binary per version.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from infra import paths, process
from infra.process import InfraError

NAME = "ferretdb"
HOST = "127.0.0.1"
PORT = paths.port("MERCHANT_FERRETDB_PORT", 27017)
PORTS = (PORT,)
address = f"{HOST}:{PORT}"
START_TIMEOUT = 30.0


def version() -> str:
    """The FerretDB version required by infra/ferretdb/go.mod."""
    match = re.search(r"github\.com/FerretDB/FerretDB v(\S+)", paths.source("ferretdb", "go.mod").read_text())
    if not match:
        raise InfraError("infra/ferretdb/go.mod does not require github.com/FerretDB/FerretDB")
    return match.group(1)


def binary() -> Path:
    return paths.artifacts() / f"ferretdb-v{version()}"


def _markers() -> tuple[str, ...]:
    return (binary().name, str(paths.data(NAME)))


def _go() -> str:
    found = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if Path(p).exists()), None)
    if not found:
        raise InfraError("`go` is not installed (building FerretDB needs Go)")
    return found


def installed() -> bool:
    return binary().exists()


def install() -> Path:
    """Build the FerretDB binary into artifacts/ (cached; the first build takes minutes)."""
    target = binary()
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")  # renamed only once complete
    result = subprocess.run(
        # No PostgreSQL backend: SQLite is all we use, and it keeps the build smaller.
        # -buildvcs=false: the module sits in a repository that may have no commits yet.
        [_go(), "build", "-tags", "ferretdb_no_postgresql", "-trimpath", "-buildvcs=false",
         "-o", str(partial), "."],
        cwd=paths.source("ferretdb"), capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise InfraError(f"building FerretDB failed:\n{(result.stdout + result.stderr)[-3000:]}")
    partial.rename(target)
    return target


def pid() -> int | None:
    return process.read_pid(NAME, _markers())


def start(timeout: float = START_TIMEOUT) -> int:
    if not installed():
        raise InfraError("FerretDB is not installed; run `merchant infra install`")
    folder = paths.data(NAME)
    folder.mkdir(parents=True, exist_ok=True)
    argv = [binary(), "-listen", address, "-data-dir", folder]
    return process.start_and_wait(NAME, argv, _markers(), health, timeout, cwd=folder,
                                  env={"DO_NOT_TRACK": "1"})  # belt and braces: no telemetry


def stop() -> int | None:
    return process.stop(NAME, _markers(), timeout=15)


def health() -> tuple[bool, str]:
    """Healthy means a MongoDB ``ping`` answers (works the same against real MongoDB)."""
    if not process.port_open(HOST, PORT):
        return False, f"nothing listens on {address}"
    from pymongo import MongoClient

    client = MongoClient(f"mongodb://{address}/", directConnection=True,
                         serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
    try:
        client.admin.command("ping")
        info = client.admin.command("buildInfo")
    except Exception as exc:
        return False, f"ping failed: {type(exc).__name__}: {exc}"
    finally:
        client.close()
    # Our wrapper build reports ferretdbVersion "unknown" (no embedded version file).
    kind = "FerretDB" if "ferretdbVersion" in info else "MongoDB"
    return True, f"ping ok, {kind} (reports MongoDB {info.get('version')})"
