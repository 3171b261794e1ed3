"""PNG figures of a run (matplotlib, Agg backend: no display needed): latency of every
request over time, throughput per round, and RSS of the processes under test."""

from __future__ import annotations

import math
import random
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

from loadtests.bench.rounds import PairResult  # noqa: E402

OURS, BASELINE = "tab:blue", "tab:orange"
MAX_POINTS = 4000  # per side and panel: enough to see the shape, small PNGs


def _grid(n: int, title: str):
    cols = 1 if n == 1 else 2
    rows = math.ceil(n / cols)
    figure, axes = plt.subplots(rows, cols, figsize=(6.5 * cols, 3.2 * rows), squeeze=False)
    figure.suptitle(title)
    for extra in axes.flat[n:]:
        extra.set_visible(False)
    return figure, list(axes.flat)


def _thin(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return points if len(points) <= MAX_POINTS else random.Random(0).sample(points, MAX_POINTS)


def _save(figure, path: Path) -> Path:
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)
    return path


def latency(results: list[PairResult], path: Path) -> Path | None:
    timed = [r for r in results if any(x.latencies for x in r.ours)]
    if not timed:
        return None
    figure, axes = _grid(len(timed), "Latency of each request over the run (ms, log scale)")
    for ax, r in zip(axes, timed, strict=False):
        for rounds, colour, label in ((r.ours, OURS, r.pair.ours.label), (r.baseline, BASELINE, r.pair.baseline.label)):
            points = _thin([(t, lat * 1000) for x in rounds for t, lat in x.latencies])
            if points:
                ax.scatter(*zip(*points, strict=True), s=2, alpha=0.35, color=colour, label=label, rasterized=True)
        ax.set_yscale("log")
        ax.set_title(r.pair.name, fontsize=10)
        ax.set_xlabel("seconds since the run began")
        ax.legend(fontsize=7, markerscale=4, loc="upper right")
    return _save(figure, path)


def throughput(results: list[PairResult], path: Path) -> Path:
    figure, axes = _grid(len(results), "Throughput per round")
    for ax, r in zip(axes, results, strict=False):
        for rounds, colour, label in ((r.ours, OURS, r.pair.ours.label), (r.baseline, BASELINE, r.pair.baseline.label)):
            ax.plot(range(1, len(rounds) + 1), [x.rate for x in rounds], marker="o", color=colour, label=label)
        ax.set_title(r.pair.name, fontsize=10)
        ax.set_xlabel("round")
        ax.set_ylabel(r.pair.unit)
        rates = [x.rate for x in (*r.ours, *r.baseline) if x.rate > 0]
        if rates and max(rates) > 20 * min(rates):
            ax.set_yscale("log")  # ours at 1/1000 of the baseline would sit flat on a linear zero
        else:
            ax.set_ylim(bottom=0)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(fontsize=7)
    return _save(figure, path)


def _with_gaps(points: list[tuple[float, float]], gap: float = 2.0) -> tuple[list[float], list[float]]:
    """x and y with a break where the process was not running (a projector between rounds)."""
    xs, ys = [], []
    for t, value in points:
        if xs and t - xs[-1] > gap:
            xs.append(t)
            ys.append(float("nan"))
        xs.append(t)
        ys.append(value)
    return xs, ys


def memory(samples: dict[str, list[tuple[float, float]]], path: Path) -> Path:
    figure, ax = plt.subplots(figsize=(10, 3.6))
    for label, points in sorted(samples.items()):
        if points:
            ax.plot(*_with_gaps(points), marker=".", markersize=2, linewidth=1, label=label)
    ax.set_title("RSS of the processes under test (process and children)")
    ax.set_xlabel("seconds since the run began")
    ax.set_ylabel("MiB")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return _save(figure, path)
