"""The load scenarios as offered request rates over time (pure data, no locust import).

A scenario is a list of stages ``(seconds, requests/s)``; between stages the rate jumps
(``Step``) or moves linearly (``Ramp``). Locust users are paced at ``PER_USER_RPS``
(``poisson_arrivals``), so the offered rate is ``users × PER_USER_RPS``: what the
scenario asks for, not what the server manages to answer (a slow answer delays only the
user that waits for it; with 2 requests/s per user, the rate holds while answers take
< 500 ms — beyond that the report's "achieved" rate falls below "offered", which is
exactly what the summary shows).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PER_USER_RPS = 2.0
SORTS = ("newest", "price_asc", "price_desc", "name")  # the storefront list sorts


@dataclass(frozen=True)
class Step:
    seconds: float
    rate: float


@dataclass(frozen=True)
class Ramp:
    """From the previous stage's rate to ``rate`` over ``seconds``, linearly."""

    seconds: float
    rate: float


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    stages: tuple[Step | Ramp, ...]

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)

    def rate_at(self, t: float) -> float | None:
        """Offered requests/s at ``t`` seconds from the start; None once it is over."""
        previous = 0.0
        for stage in self.stages:
            if t < stage.seconds:
                if isinstance(stage, Ramp):
                    return previous + (stage.rate - previous) * t / stage.seconds
                return stage.rate
            t -= stage.seconds
            previous = stage.rate
        return None

    @property
    def peak(self) -> float:
        return max(s.rate for s in self.stages)

    def scaled(self, seconds: float | None = None, rate: float | None = None) -> Scenario:
        """The same shape stretched to ``seconds`` and/or scaled so its peak is ``rate``."""
        time_factor = seconds / self.seconds if seconds else 1.0
        rate_factor = rate / self.peak if rate else 1.0
        stages = tuple(type(s)(s.seconds * time_factor, s.rate * rate_factor) for s in self.stages)
        return Scenario(self.name, self.description, stages)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "basic", "100 requests/s sustained for 2 minutes (after a 10 s ramp).", (Ramp(10, 100), Step(120, 100))
        ),
        Scenario(
            "spike",
            "100 requests/s, a sudden jump to 500 for 60 s, back to 100.",
            (Ramp(10, 100), Step(50, 100), Step(60, 500), Step(60, 100)),
        ),
        Scenario(
            "stress",
            "Steps of 100 requests/s, 30 s each, from 100 up to 1,000.",
            tuple(Step(30, rate) for rate in range(100, 1001, 100)),
        ),
        Scenario("endurance", "200 requests/s for 30 minutes.", (Ramp(10, 200), Step(1790, 200))),
        Scenario(
            "endurance-short", "200 requests/s for 3 minutes (the routine variant).", (Ramp(10, 200), Step(170, 200))
        ),
        Scenario("smoke", "20 requests/s for 15 s (the automated test).", (Step(15, 20),)),
    )
}


def users_for(rate: float) -> int:
    return max(1, round(rate / PER_USER_RPS))


def steps_of(scenario: Scenario) -> list[tuple[float, float, float]]:
    """``(start, end, rate)`` of each constant stage: the stress run's knee is read per step."""
    out, t = [], 0.0
    for stage in scenario.stages:
        if isinstance(stage, Step):
            out.append((t, t + stage.seconds, stage.rate))
        t += stage.seconds
    return out


def poisson_arrivals(
    rate: float, clock: Callable[[], float] = time.monotonic, draw: Callable[[float], float] = random.expovariate
) -> Callable[[Any], float]:
    """A locust ``wait_time``: the user's requests leave as a Poisson process of ``rate``
    per second (each an exponential interval after the previous one's departure; the
    request itself is sent in a greenlet of its own, so the answer never delays the next),
    and the users' sum is a Poisson process of the offered rate, as visitors arrive.
    ``constant_throughput``, used before, gives every user a fixed period: users spawned
    in the same instant (locust starts a step's users together) stay in step for good — in
    a spike run, 200 requests within 50 ms twice a second for "500 requests/s" — and the
    latencies measured the queue behind each burst, not the service. A departure whose
    time passed while the generator was stalled leaves at once, never in a catch-up burst.
    """

    def wait(user: Any) -> float:
        now = clock()
        due = max(getattr(user, "_next_arrival", now) + draw(rate), now)
        user._next_arrival = due
        return due - now

    return wait
