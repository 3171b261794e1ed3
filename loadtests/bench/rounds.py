"""Driving one side of a pair for a round, and interleaving the two sides round by round.

A *pair* is one of our hot paths and its baseline. Each round runs both, one after the
other, and the order flips every round, so load that comes and goes on a shared machine
hits both alike. Every request's latency is kept with the time it finished (for the
latency-over-time plot); each round's operations per second is one throughput sample.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field

from loadtests.bench.stats import median, quantile
from loadtests.ops import Work

# One request: True when it succeeded, else what went wrong (an HTTP status, False), which
# is counted by kind and not timed as a success.
Operation = Callable[[], Awaitable[object]]
# Per concurrent client: opens what the client needs (a connection) and yields its Operation.
Connect = Callable[[], AbstractAsyncContextManager[Operation]]
RunRound = Callable[[int], Awaitable["RoundResult"]]


@dataclass
class RoundResult:
    operations: int
    seconds: float
    # (seconds since the run began, latency in seconds) of each successful operation
    latencies: list[tuple[float, float]] = field(default_factory=list)
    failures: Counter = field(default_factory=Counter)  # what an operation returned instead of True
    # What the process under test did for the round, where a pair measures it (``loadtests.ops``):
    # "mongodb_ops" (operations issued) and "cpu_seconds".
    work: dict[str, float] = field(default_factory=dict)
    # Every metered process's CPU seconds and the machine's over the round, where a pair
    # reads them on both sides (``loadtests.bench.budget``).
    usage: Work | None = None

    @property
    def errors(self) -> int:
        return sum(self.failures.values())

    @property
    def rate(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def per_operation(self, counter: str) -> float | None:
        """A work counter per successful operation (``None``: not measured, or nothing done)."""
        return self.work[counter] / self.operations if counter in self.work and self.operations else None

    def latency_ms(self, q: float) -> float | None:
        return quantile([lat for _, lat in self.latencies], q) * 1000 if self.latencies else None


@dataclass(frozen=True)
class Side:
    label: str
    run_round: RunRound


@dataclass(frozen=True)
class Pair:
    name: str
    group: str
    unit: str  # what the rate counts, e.g. "requests/s"
    ours: Side
    baseline: Side


@dataclass
class PairResult:
    pair: Pair
    ours: list[RoundResult] = field(default_factory=list)
    baseline: list[RoundResult] = field(default_factory=list)


def closed_loop(connect: Connect, seconds: float, concurrency: int, zero: float) -> RunRound:
    """A round: ``concurrency`` clients, each sending its next request as soon as the last
    one answered, for ``seconds``."""

    async def run_round(_: int) -> RoundResult:
        latencies: list[tuple[float, float]] = []
        failures: Counter = Counter()
        deadline = time.perf_counter() + seconds

        async def client() -> None:
            async with connect() as operation:
                while time.perf_counter() < deadline:
                    began = time.perf_counter()
                    outcome = await operation()
                    done = time.perf_counter()
                    if outcome is True:
                        latencies.append((done - zero, done - began))
                    else:
                        failures[str(outcome)] += 1

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return RoundResult(len(latencies), time.perf_counter() - began, latencies, failures)

    return run_round


async def interleave(pairs: list[Pair], rounds: int, progress: Callable[[str], None] = print) -> list[PairResult]:
    results = [PairResult(p) for p in pairs]
    for number in range(rounds):
        for result in results:
            pair = result.pair
            order = [("baseline", pair.baseline), ("ours", pair.ours)]
            for kind, side in order if number % 2 == 0 else reversed(order):
                outcome = await side.run_round(number)
                getattr(result, kind).append(outcome)
                p50 = outcome.latency_ms(0.5)
                progress(
                    f"round {number + 1}/{rounds} {pair.name} [{kind}] {side.label}: "
                    f"{outcome.rate:,.1f} {pair.unit}"
                    + (f", p50 {p50:.2f} ms" if p50 is not None else "")
                    + (f", {outcome.errors} errors" if outcome.errors else "")
                )
    return results


def round_medians(rounds: list[RoundResult], q: float) -> list[float]:
    """Per-round latency quantile in ms (rounds without samples left out)."""
    return [v for v in (r.latency_ms(q) for r in rounds) if v is not None]


def overall_median_rate(rounds: list[RoundResult]) -> float:
    return median([r.rate for r in rounds])
