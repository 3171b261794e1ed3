"""``merchant bench`` end to end on the real servers, as small as it goes: one round of the
cache pair. What is checked is that the run happens and writes its section and plots —
never how fast anything was (figures belong in docs/benchmarks.md, not in asserts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.bench.report import END, START

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def test_bench_writes_its_section_and_plots_between_the_markers(server_env, tmp_path):
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# Benchmarks\n\n## Someone else's section\n\nkept\n\n{START}\nSTALE-RUN\n{END}\n\n## After\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "merchant_cli.main",
            "bench",
            "--only",
            "cache",
            "--repeat",
            "1",
            "--seconds",
            "0.3",
            "--concurrency",
            "2",
            "--products",
            "20",
            "--out",
            str(out),
        ],
        env={**os.environ, **server_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]

    document = out.read_text()
    assert document.count(START) == 1 and document.count(END) == 1
    assert "STALE-RUN" not in document and "kept" in document and "## After" in document
    generated = document[document.index(START) : document.index(END)]
    assert "merchant bench --only cache --repeat 1" in generated
    assert "| cached catalogue page (L1 hit) | query API GET /v1/products |" in generated
    for name in ("latency", "throughput", "memory"):
        assert f"(img/bench/{name}.png)" in generated
        assert (tmp_path / "img" / "bench" / f"{name}.png").read_bytes().startswith(PNG)
