"""Memory monitor: RSS samples, trend by linear regression, a leak rule, tracemalloc diffs.

The leak rule: over the last ``window`` samples, RSS grows at more than
``leak_bytes_per_minute`` (least-squares slope) *and* the growth is steady (r² at least
``min_r2``) — a sawtooth of allocations and collections, or one big cache fill that then
stays flat, does not qualify; sustained growth does. When the rule starts to hold, each
alert callback is called once (by default: a warning log and ``merchant_memory_alerts_total``);
it fires again only after the rule stopped holding.

tracemalloc is off by default (it costs CPU and memory on every allocation): ``start_tracing``
takes a baseline snapshot, ``top_allocations`` diffs the current heap against it and names
the allocation sites (file:line) that grew most.
"""

from __future__ import annotations

import logging
import os
import time
import tracemalloc
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import psutil

from shared.observability import metrics

log = logging.getLogger(__name__)

MB = 1024 * 1024


@dataclass(frozen=True)
class Sample:
    at: float  # seconds (monotonic clock unless a test gives its own)
    rss: int  # bytes


@dataclass(frozen=True)
class Trend:
    bytes_per_minute: float
    r2: float
    samples: int


@dataclass(frozen=True)
class Alert:
    rule: str
    message: str
    trend: Trend
    rss: int


def linear_trend(samples: list[Sample]) -> Trend:
    """Least-squares slope of RSS over time, and how well a line explains it (r²)."""
    n = len(samples)
    if n < 2:
        return Trend(0.0, 0.0, n)
    mean_t = sum(s.at for s in samples) / n
    mean_m = sum(s.rss for s in samples) / n
    stt = sum((s.at - mean_t) ** 2 for s in samples)
    smm = sum((s.rss - mean_m) ** 2 for s in samples)
    stm = sum((s.at - mean_t) * (s.rss - mean_m) for s in samples)
    if stt == 0:
        return Trend(0.0, 0.0, n)
    slope = stm / stt
    r2 = (stm * stm) / (stt * smm) if smm else 0.0
    return Trend(slope * 60.0, r2, n)


def current_rss() -> int:
    return psutil.Process(os.getpid()).memory_info().rss


AlertCallback = Callable[[Alert], None]


def log_and_count(alert: Alert) -> None:
    metrics.memory_alerts.labels(rule=alert.rule).inc()
    log.warning(
        "memory alert: %s",
        alert.message,
        extra={"rule": alert.rule, "rss": alert.rss, "bytes_per_minute": alert.trend.bytes_per_minute},
    )


class MemoryMonitor:
    def __init__(
        self,
        *,
        window: int = 20,
        leak_bytes_per_minute: float = 2 * MB,
        min_r2: float = 0.8,
        limit_bytes: int = 0,
        alert_callbacks: list[AlertCallback] | None = None,
        read_rss: Callable[[], int] = current_rss,
    ) -> None:
        if window < 3:
            raise ValueError("window must be at least 3 samples")
        self.window, self.leak_bytes_per_minute, self.min_r2 = window, leak_bytes_per_minute, min_r2
        self.limit_bytes = limit_bytes
        self.alert_callbacks = list(alert_callbacks if alert_callbacks is not None else [log_and_count])
        self._read_rss = read_rss
        self._samples: deque[Sample] = deque(maxlen=window)
        self._baseline: tracemalloc.Snapshot | None = None
        self.leak_suspected = False
        self.over_limit = False

    # -- sampling and rules ------------------------------------------------------------
    def sample(self, at: float | None = None) -> Sample:
        sample = Sample(time.monotonic() if at is None else at, self._read_rss())
        self._samples.append(sample)
        metrics.process_rss.set(sample.rss)
        trend = self.trend()
        metrics.memory_growth.set(trend.bytes_per_minute)
        self._apply_rules(sample, trend)
        return sample

    def trend(self) -> Trend:
        return linear_trend(list(self._samples))

    def _apply_rules(self, sample: Sample, trend: Trend) -> None:
        leak = (
            trend.samples >= self.window
            and trend.bytes_per_minute > self.leak_bytes_per_minute
            and trend.r2 >= self.min_r2
        )
        if leak and not self.leak_suspected:
            self._alert(
                Alert(
                    "leak",
                    f"RSS grows {trend.bytes_per_minute / MB:.1f} MB/min over "
                    f"{trend.samples} samples (r²={trend.r2:.2f})",
                    trend,
                    sample.rss,
                )
            )
        self.leak_suspected = leak
        metrics.memory_leak_suspected.set(1 if leak else 0)
        over = bool(self.limit_bytes) and sample.rss > self.limit_bytes
        if over and not self.over_limit:
            self._alert(
                Alert(
                    "limit",
                    f"RSS {sample.rss / MB:.0f} MB above the limit {self.limit_bytes / MB:.0f} MB",
                    trend,
                    sample.rss,
                )
            )
        self.over_limit = over

    def _alert(self, alert: Alert) -> None:
        for callback in self.alert_callbacks:
            try:
                callback(alert)
            except Exception:  # an alert sink failing must not stop the monitor
                log.exception("memory alert callback failed")

    @property
    def health(self) -> str:
        """``ok``; ``warning`` while a leak is suspected; ``critical`` above the limit
        (readiness fails only on ``critical``: a leak warns, a process out of budget leaves)."""
        if self.over_limit:
            return "critical"
        return "warning" if self.leak_suspected else "ok"

    # -- tracemalloc -------------------------------------------------------------------
    @property
    def tracing(self) -> bool:
        return tracemalloc.is_tracing()

    def start_tracing(self, frames: int = 1) -> None:
        if not tracemalloc.is_tracing():
            tracemalloc.start(frames)
        self._baseline = tracemalloc.take_snapshot()

    def stop_tracing(self) -> None:
        self._baseline = None
        tracemalloc.stop()

    def top_allocations(self, limit: int = 10) -> list[dict[str, Any]]:
        """Allocation sites that grew most since ``start_tracing`` (file:line, size, count)."""
        if not tracemalloc.is_tracing() or self._baseline is None:
            return []
        ignore = [
            tracemalloc.Filter(False, tracemalloc.__file__),
            tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
        ]
        now = tracemalloc.take_snapshot().filter_traces(ignore)
        stats = now.compare_to(self._baseline.filter_traces(ignore), "lineno")
        return [
            {
                "site": f"{s.traceback[0].filename}:{s.traceback[0].lineno}",
                "size_diff_bytes": s.size_diff,
                "size_bytes": s.size,
                "count_diff": s.count_diff,
            }
            for s in stats[:limit]
            if s.size_diff > 0
        ]

    # -- report ------------------------------------------------------------------------
    def report(self, allocations: int = 10) -> dict[str, Any]:
        samples = list(self._samples)
        return {
            "health": self.health,
            "rss_bytes": samples[-1].rss if samples else current_rss(),
            "trend": asdict(self.trend()),
            "leak_suspected": self.leak_suspected,
            "thresholds": {
                "window": self.window,
                "leak_bytes_per_minute": self.leak_bytes_per_minute,
                "min_r2": self.min_r2,
                "limit_bytes": self.limit_bytes,
            },
            "samples": [{"at": s.at, "rss": s.rss} for s in samples],
            "tracing": self.tracing,
            "top_allocations": self.top_allocations(allocations),
        }
