"""``merchant bench`` end to end on the real servers, as small as it goes: one round of the
cache pair, one short round of the commands. What is checked is that the run happens and
writes its section, plots and tables — never how fast anything was (figures belong in
docs/benchmarks.md, not in asserts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.bench import budget
from loadtests.bench.report import END, START, markdown_table

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def bench(server_env: dict[str, str], group: str, *args: str, timeout: float = 120) -> None:
    """One round of ``group``, 0.3 s per side."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "merchant_cli.main",
            "bench",
            "--only",
            group,
            "--repeat",
            "1",
            "--seconds",
            "0.3",
            *args,
        ],
        env={**os.environ, **server_env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def test_bench_writes_its_section_and_plots_between_the_markers(server_env, tmp_path):
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# Benchmarks\n\n## Someone else's section\n\nkept\n\n{START}\nSTALE-RUN\n{END}\n\n## After\n")
    bench(server_env, "cache", "--concurrency", "2", "--products", "20", "--out", str(out))

    document = out.read_text()
    assert document.count(START) == 1 and document.count(END) == 1
    assert "STALE-RUN" not in document and "kept" in document and "## After" in document
    generated = document[document.index(START) : document.index(END)]
    assert "merchant bench --only cache --repeat 1" in generated
    assert "| cached catalogue page (L1 hit) | query API GET /v1/products |" in generated
    for name in ("latency", "throughput", "memory"):
        assert f"(img/bench/{name}.png)" in generated
        assert (tmp_path / "img" / "bench" / f"{name}.png").read_bytes().startswith(PNG)


def test_the_commands_budget_counts_the_store_on_both_sides(server_env, tmp_path):
    """Each side of each command pair has its row of CPU per operation by process, and the
    store's processes (FerretDB, PostgreSQL with its backends) worked for both: the raw
    loop's inserts cost them too, not only ours."""
    out = tmp_path / "benchmarks.md"
    bench(server_env, "commands", "--concurrency", "2", "--out", str(out), timeout=240)

    generated = out.read_text()
    header = markdown_table(budget.HEADER, []).splitlines()[0]
    assert header in generated
    table = generated[generated.index(header) :].split("\n\n")[0].splitlines()[2:]
    rows = [dict(zip(budget.HEADER, (c.strip() for c in line.strip("|").split(" | ")), strict=True)) for line in table]
    commands = ("create product", "adjust stock", "place order (1 line)")
    pairs = [*commands, *(f"{name}, 1 client" for name in commands)]
    assert sorted((r["hot path"], r["side"]) for r in rows) == sorted(
        (name, side) for name in pairs for side in ("ours", "baseline")
    )
    for r in rows:
        for column in ("FerretDB CPU ms/op", "PostgreSQL CPU ms/op", "sum ms/op"):
            assert r[column].strip("*") not in ("0.00", "—"), (r["hot path"], r["side"], column, r[column])
