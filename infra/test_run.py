"""``make test``: start the servers, run the whole suite against them, stop them.

Servers that were already running before (a ``merchant dev`` session, docker-compose)
are used and left running; the ones this run started are stopped, even when the tests
fail. The exit code is pytest's, except that "no tests collected" counts as a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from infra import manager


def main(argv: list[str]) -> int:
    started = manager.to_be_started(manager.status())  # only these are stopped at the end
    began = time.monotonic()
    try:
        manager.up(progress=lambda name, message: print(f"  {name}: {message}", flush=True))
        print(f"servers ready in {time.monotonic() - began:.1f} s", flush=True)
        env = {**os.environ, **manager.environment()}
        code = subprocess.call([sys.executable, "-m", "pytest", *argv], env=env)
        return 1 if code == 5 else code  # 5: no tests ran — never a pass
    finally:
        if started:
            manager.down(started)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
