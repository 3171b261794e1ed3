"""The generated section of docs/benchmarks.md: machine facts, the command, the table,
the plots. It sits between two markers, so a re-run replaces it and nothing else."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from loadtests.bench.rounds import PairResult, RoundResult, round_medians
from loadtests.bench.stats import Spread, paired_ratios

START, END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Facts:
    when: str  # UTC
    command: str
    cores: int
    load_start: tuple[float, float, float]
    load_end: tuple[float, float, float]
    python: str
    servers: dict[str, str]  # server -> version as it reports itself


def number(value: float) -> str:
    if math.isinf(value) or math.isnan(value):
        return "—"
    if value < 0:  # a remainder (machine − listed) of readings not quite simultaneous
        return f"-{number(-value)}"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1 or value == 0:
        return f"{value:.2f}"
    # two significant digits, never 0.00 nor 4.3e-05: a ratio of 0.0016 must read as one
    return f"{value:.{1 - math.floor(math.log10(value))}f}"


def spread(s: Spread | None, suffix: str = "") -> str:
    if s is None:
        return "—"
    if s.n == 1:
        return f"{number(s.median)}{suffix}"
    return f"{number(s.median)}{suffix} ({number(s.low)}–{number(s.high)})"


def rows(results: list[PairResult]) -> list[list[str]]:
    out = []
    for r in results:
        ours_rate, base_rate = [x.rate for x in r.ours], [x.rate for x in r.baseline]
        ours_p50, base_p50 = round_medians(r.ours, 0.5), round_medians(r.baseline, 0.5)
        ours_p95, base_p95 = round_medians(r.ours, 0.95), round_medians(r.baseline, 0.95)
        latency = paired_ratios(ours_p50, base_p50) if ours_p50 and len(ours_p50) == len(base_p50) else None
        errors = "; ".join(
            f"{side} {f}" for side, f in (("ours", failures(r.ours)), ("baseline", failures(r.baseline))) if f
        )
        out.append(
            [
                r.pair.name,
                r.pair.ours.label,
                r.pair.baseline.label,
                r.pair.unit,
                spread(Spread.of(ours_rate)),
                spread(Spread.of(base_rate)),
                f"**{spread(paired_ratios(ours_rate, base_rate))}**",
                spread(Spread.of(ours_p50) if ours_p50 else None),
                spread(Spread.of(base_p50) if base_p50 else None),
                f"**{spread(latency)}**" if latency else "—",
                spread(Spread.of(ours_p95) if ours_p95 else None),
                spread(Spread.of(base_p95) if base_p95 else None),
                errors or "0",
                spread(Spread.of(ours_p99) if (ours_p99 := round_medians(r.ours, 0.99)) else None),
                spread(per_operation(r.ours, "mongodb_ops")),
                spread(per_operation(r.ours, "cpu_seconds", scale=1000)),
            ]
        )
    return out


def per_operation(rounds: list[RoundResult], counter: str, scale: float = 1.0) -> Spread | None:
    """A work counter per operation over the rounds that measured it (``None``: none did)."""
    values = [v * scale for v in (r.per_operation(counter) for r in rounds) if v is not None]
    return Spread.of(values) if values else None


def failures(rounds) -> str:
    """Failures over all rounds by kind, e.g. ``503×12, 409×3`` (HTTP statuses)."""
    counted = Counter()
    for r in rounds:
        counted.update(r.failures)
    return ", ".join(f"{kind}×{n}" for kind, n in counted.most_common())


HEADER = [
    "hot path",
    "ours",
    "baseline",
    "unit",
    "ours rate",
    "baseline rate",
    "rate ratio",
    "ours p50 ms",
    "baseline p50 ms",
    "p50 ratio",
    "ours p95 ms",
    "baseline p95 ms",
    "errors",
    "ours p99 ms",
    "ours MongoDB ops per op",
    "ours CPU ms per op",
]


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), "|" + "|".join("---" for _ in header) + "|", *map(line, body)])


def section(
    facts: Facts, results: list[PairResult], images: list[tuple[str, str]], rounds: int, budget: str | None = None
) -> str:
    """``budget``: the CPU per operation by process, its paragraphs and tables
    (``loadtests.bench.budget``, and the projector's steps: ``loadtests.bench.phases``),
    under the main table, when some pair read it."""
    load = "/".join(f"{x:.2f}" for x in facts.load_start)
    servers = ", ".join(f"{name} {version}" for name, version in facts.servers.items())
    lines = [
        START,
        "## Side by side: `merchant bench` (generated)",
        "",
        f"Generated {facts.when} by the command below; re-running it replaces this section "
        "(between the `bench:start`/`bench:end` markers) and the plots.",
        "",
        f"```sh\n{facts.command}\n```",
        "",
        f"Machine: {facts.cores} cores, load average {load} (1/5/15 min) at the start and "
        f"{facts.load_end[0]:.2f} at the end; Python {facts.python}; {servers}.",
        "",
        f"{rounds} round(s); in each round every pair runs its baseline and our path one after the"
        " other, the order flipping every round. Rates are per round (operations ÷ seconds); "
        "latency is the round's median (p50) or 95th percentile (p95). Cells give the median over"
        " rounds and, in brackets, the lowest and highest round. Ratios are ours ÷ baseline *per "
        "round* (rounds that ran side by side), then the median and range of those: a rate ratio "
        "below 1 or a p50 ratio above 1 is what our path costs beyond its baseline. Errors are "
        "answers other than the expected status, by status and count over all rounds (not counted"
        " in the rates or latencies). "
        "Where a pair counts its work (the commands, the projectors), the last columns give our side's p99 "
        "and, per successful operation, the MongoDB operations and CPU milliseconds of the process under test "
        "(`/metrics` and psutil, read before and after each round; the command API's relay runs in it; a "
        "projector's `/metrics` at the end of each of its runs, as it is paused between them).",
        "",
        markdown_table(HEADER, rows(results)),
        "",
        *([budget, ""] if budget else []),
        *[f"![{title}]({path})\n" for title, path in images],
        END,
    ]
    return "\n".join(lines)


def replace_section(document: str, new_section: str) -> str:
    """The document with its generated section replaced (appended when it has none)."""
    start, end = document.find(START), document.find(END)
    if start == -1 and end == -1:
        return document.rstrip("\n") + "\n\n" + new_section + "\n"
    if start == -1 or end < start:
        raise ValueError(f"unbalanced {START} / {END} markers")
    return document[:start] + new_section + document[end + len(END) :]
