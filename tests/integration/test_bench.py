"""``merchant bench`` end to end on the real servers, as small as it goes: one round of the
cache pair, one short round of the commands, one of the projectors. What is checked is that the run happens and
writes its section, plots and tables — never how fast anything was (figures belong in
docs/benchmarks.md, not in asserts)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from loadtests.bench import budget, commands, projectors, report
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


def table(generated: str, header: list[str]) -> list[dict[str, str]]:
    """The rows of the generated table with this header, by column."""
    first = markdown_table(header, []).splitlines()[0]
    assert first in generated
    lines = generated[generated.index(first) :].split("\n\n")[0].splitlines()[2:]
    return [dict(zip(header, (c.strip() for c in line.strip("|").split(" | ")), strict=True)) for line in lines]


def positive(cell: str) -> bool:
    """A figure above zero: its median, bold or not, neither ``0.00`` nor ``—``."""
    return float(cell.strip("*").split(" ")[0].replace(",", "")) > 0 if cell.strip("*")[:1].isdigit() else False


def test_the_commands_budget_counts_the_store_on_both_sides(server_env, tmp_path):
    """Each side of each command pair has its row of CPU per operation by process, and the
    store's processes (FerretDB, PostgreSQL with its backends) worked for both: the raw
    loop's inserts cost them too, not only ours."""
    out = tmp_path / "benchmarks.md"
    bench(server_env, "commands", "--concurrency", "2", "--out", str(out), timeout=240)

    rows = table(out.read_text(), budget.header(commands.BUDGET))
    names = ("create product", "adjust stock", "place order (1 line)")
    pairs = [*names, *(f"{name}, 1 client" for name in names)]
    assert sorted((r["hot path"], r["side"]) for r in rows) == sorted(
        (name, side) for name in pairs for side in ("ours", "baseline")
    )
    for r in rows:
        for column in ("FerretDB CPU ms/op", "PostgreSQL CPU ms/op", "sum ms/op"):
            assert r[column].strip("*") not in ("0.00", "—"), (r["hot path"], r["side"], column, r[column])


def test_the_projectors_budget_meters_the_projector_the_store_and_the_raw_loop(server_env, tmp_path):
    """A short round of both projector pairs (its 1,000 events; 20 products per merchant on
    the big read models): each side has its row of CPU per event by process, the
    projector's own process and the store worked for ours, the raw loop's process and the
    store for the baseline; and the projector's steps per event were read from its
    /metrics, as were its MongoDB operations."""
    out = tmp_path / "benchmarks.md"
    bench(server_env, "projectors", "--catalogue", "20", "--out", str(out), timeout=300)

    generated = out.read_text()
    rows = {(r["hot path"], r["side"]): r for r in table(generated, budget.header(projectors.BUDGET))}
    big = "projector on 20 products per merchant"
    assert sorted(rows) == sorted((name, side) for name in ("projector", big) for side in ("ours", "baseline"))
    for name in ("projector", big):
        ours = rows[name, "ours"]
        for column in ("projector process CPU ms/event", "FerretDB CPU ms/event", "PostgreSQL CPU ms/event"):
            assert positive(ours[column]), (name, column, ours[column])
        assert positive(ours["sum ms/event"]) and positive(ours["ceiling /s (cores × 1000 ÷ sum)"])
        assert positive(ours["ours' ceiling ÷ baseline rate"]), ours
    raw = rows["projector", "baseline"]
    assert raw["projector process CPU ms/event"] == "0.00"  # paused while the raw loop runs
    assert positive(raw["bench process (waiting / raw loop) CPU ms/event"]) and positive(raw["sum ms/event"]), raw

    # the steps' columns are the phases the projector reported: the header as printed
    printed = next(line for line in generated.splitlines() if line.startswith("| hot path | stream |"))
    steps = table(generated, [c.strip() for c in printed.strip("|").split(" | ")])
    totals = {r["hot path"]: r for r in steps if r["stream"] == "all streams"}
    assert sorted(totals) == sorted(["projector", big])
    assert all(positive(r["all phases ms/event"]) and positive(r["round wall ms/event"]) for r in totals.values())
    main = table(generated, report.HEADER)
    assert all(positive(r["ours MongoDB ops per op"]) for r in main if r["hot path"] in ("projector", big))
