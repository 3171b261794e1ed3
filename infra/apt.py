"""Installing Debian packages the way every local server needs them (redis-server, kcat,
postgresql): only what is missing, as root or through passwordless sudo, lists updated first."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable

from infra.process import InfraError


def install(packages: Iterable[str]) -> None:
    missing = list(packages)
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        raise InfraError(f"install as root: apt-get update && apt-get install -y {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # A fresh machine's package lists may be empty or stale: update first, once.
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *missing]):
        result = subprocess.run([*sudo, *cmd], env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"{' '.join(cmd)} failed:\n{(result.stdout + result.stderr)[-3000:]}")
