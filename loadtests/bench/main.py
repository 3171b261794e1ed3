"""One benchmark run: the chosen groups of pairs, one after the other, in one namespace;
then the report (stdout, and with ``out`` the section of docs/benchmarks.md and its plots)."""

from __future__ import annotations

import importlib
import os
import platform
import shlex
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from loadtests.bench import budget, phases, plots, report
from loadtests.bench.environment import bench_env
from loadtests.bench.rounds import PairResult, interleave

GROUPS = ("cache", "l2", "miss", "commands", "projectors")  # in the order they run


@dataclass(frozen=True)
class Options:
    only: tuple[str, ...] = GROUPS
    repeat: int = 5
    seconds: float = 3.0  # per side and round, for the request/response pairs
    concurrency: int = 16  # clients of the HTTP pairs (the in-process pairs use one)
    products: int = 500
    events: int = 1000  # per projector round
    out: Path | None = None
    command: str = "merchant bench"
    catalogue: int = 20_000  # products per merchant under the projector's "big read models" pair


async def server_versions(bench) -> dict[str, str]:
    """What the servers say they are (FerretDB answers buildInfo as a MongoDB version)."""
    from infra.servers import kafka

    versions = {"Redis": (await bench.redis.info("server"))["redis_version"]}
    info = await bench.db.client.admin.command("buildInfo")
    versions["MongoDB API"] = info.get("version", "?") + (" (FerretDB)" if "ferretdb" in str(info).lower() else "")
    versions["Kafka"] = f"{kafka.version()} (infra/kafka/pom.xml)"
    return versions


async def run(options: Options, progress=print) -> tuple[str, list[PairResult]]:
    unknown = set(options.only) - set(GROUPS)
    if unknown:
        raise ValueError(f"unknown group(s) {sorted(unknown)}; choose from {', '.join(GROUPS)}")
    load_start = os.getloadavg()
    started = datetime.now(UTC)
    results: list[PairResult] = []
    subjects: list[budget.Subject] = []  # the budget tables of the groups that meter their pairs
    async with bench_env() as bench:
        versions = await server_versions(bench)
        for group in (g for g in GROUPS if g in options.only):
            progress(f"== {group} (logs in {bench.log_dir})")
            module = importlib.import_module(f"loadtests.bench.{group}")
            subjects += [module.BUDGET] if hasattr(module, "BUDGET") else []
            async with module.pairs(bench, options) as pairs:
                results += await interleave(pairs, options.repeat, progress)
        memory = bench.memory.samples
    facts = report.Facts(
        started.strftime("%Y-%m-%d %H:%M UTC"),
        options.command,
        os.cpu_count() or 0,
        load_start,
        os.getloadavg(),
        platform.python_version(),
        versions,
    )
    images = write_plots(results, memory, options.out) if options.out else []
    costs = [budget.section(results, facts.cores, subjects), phases.section(results)]
    text = report.section(facts, results, images, options.repeat, "\n\n".join(c for c in costs if c) or None)
    if options.out:
        document = options.out.read_text() if options.out.exists() else "# Benchmarks\n"
        options.out.write_text(report.replace_section(document, text))
    return text, results


def write_plots(results: list[PairResult], memory: dict, out: Path) -> list[tuple[str, str]]:
    """The PNGs beside the document (``img/bench/``); (title, path relative to it)."""
    directory = out.parent / "img" / "bench"
    written = [
        ("latency over time", plots.latency(results, directory / "latency.png")),
        ("throughput per round", plots.throughput(results, directory / "throughput.png")),
        ("memory (RSS) over the run", plots.memory(memory, directory / "memory.png")),
    ]
    return [(title, str(path.relative_to(out.parent))) for title, path in written if path]


def command_line(argv: list[str]) -> str:
    return "merchant bench" + "".join(f" {shlex.quote(a)}" for a in argv)
