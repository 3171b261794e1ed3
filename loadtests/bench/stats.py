"""Medians, ratios and spread over rounds: the only figures the benchmark reports.

No assertion on any of them anywhere: a shared 2-core machine makes absolute times noisy,
so the report gives medians over interleaved rounds and ratios to a baseline measured in
the same rounds, with their spread.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def median(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("median of no values")
    return statistics.median(values)


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) by linear interpolation between closest ranks."""
    if not values:
        raise ValueError("quantile of no values")
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def iqr(values: Sequence[float]) -> tuple[float, float]:
    """The interquartile range as (first quartile, third quartile)."""
    return quantile(values, 0.25), quantile(values, 0.75)


@dataclass(frozen=True)
class Spread:
    """A median with the range it was taken from."""

    median: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        return cls(median(values), min(values), max(values), len(values))


def ratio(ours: float, baseline: float) -> float:
    """ours ÷ baseline; infinite when the baseline is zero (never a ZeroDivisionError)."""
    if baseline == 0:
        return float("inf") if ours else float("nan")
    return ours / baseline


def paired_ratios(ours: Sequence[float], baseline: Sequence[float]) -> Spread:
    """Per-round ratios (round i of ours ÷ round i of the baseline): pairing rounds that ran
    next to each other cancels load that drifts over the run."""
    if len(ours) != len(baseline):
        raise ValueError(f"{len(ours)} rounds of ours, {len(baseline)} of the baseline")
    return Spread.of([ratio(o, b) for o, b in zip(ours, baseline, strict=True)])
