"""What the run observes besides locust: RSS of each process, cache counters, projection lag.

A background thread samples every ``interval`` seconds: RSS (psutil, the process and its
children, so ``--workers N`` is counted whole), the query API's ``/health/cache``
counters and the projectors' ``projection_lag_seconds``/``projection_lag_events`` gauges
from their ``/metrics`` port.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import httpx
import psutil

_GAUGE = re.compile(r'^(projection_lag_seconds|projection_lag_events)\{projection="([^"]+)"\}\s+(\S+)$', re.M)


def tree_rss(pid: int) -> int | None:
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in (root, *root.children(recursive=True)))
    except psutil.Error:
        return None


def projection_lag(metrics_text: str) -> dict[str, dict[str, float]]:
    """``{"seconds"|"events": {projection: value}}`` from a Prometheus exposition."""
    out: dict[str, dict[str, float]] = {"seconds": {}, "events": {}}
    for metric, projection, value in _GAUGE.findall(metrics_text):
        out["seconds" if metric.endswith("seconds") else "events"][projection] = float(value)
    return out


@dataclass
class Sampler:
    processes: dict[str, int]  # name -> pid
    query_url: str | None
    projector_metrics_url: str | None
    interval: float = 2.0
    rss: list[dict] = field(default_factory=list)  # {t, name: bytes, ...}
    cache: list[dict] = field(default_factory=list)  # {t, **/health/cache}
    lag: list[dict] = field(default_factory=list)  # {t, seconds: {...}, events: {...}}
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self.started = time.time()
        self._thread = threading.Thread(target=self._loop, name="load-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=10)
        self.sample()  # the end state

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        t = round(time.time() - self.started, 2)
        self.rss.append({"t": t, **{name: tree_rss(pid) for name, pid in self.processes.items()}})
        with httpx.Client(timeout=2) as client:
            if self.query_url:
                try:
                    self.cache.append({"t": t, **client.get(f"{self.query_url}/health/cache").json()})
                except (httpx.HTTPError, ValueError):
                    pass
            if self.projector_metrics_url:
                try:
                    self.lag.append(
                        {"t": t, **projection_lag(client.get(f"{self.projector_metrics_url}/metrics").text)}
                    )
                except httpx.HTTPError:
                    pass
