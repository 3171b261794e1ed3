"""The background part of observability, started once per process in its lifespan.

- an event-loop lag probe: a timer that should fire every ``interval`` seconds; how late it
  fires is how long something blocked the loop;
- GC pause timing through ``gc.callbacks``;
- the memory monitor's periodic sampling;
- in production, ``gc.freeze()`` once start-up is done: the objects created while importing
  and starting (most of the heap) move to a permanent generation, so later collections
  scan far less (and forked workers keep sharing those pages); then the collector's
  thresholds are raised (``gc_thresholds``), so passes — each one a stop of the event
  loop — are rare. The projectors do the same in every mode (``batch_gc_thresholds``):
  their catch-up batches are where the default collector cost most.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator

from shared.observability import metrics
from shared.observability.memory import MemoryMonitor
from shared.observability.settings import ObservabilitySettings

log = logging.getLogger(__name__)


async def cancel_and_wait(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel background tasks and wait until each has finished unwinding."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


class LoopLagProbe:
    """Measures how late a periodic timer fires. ``max_lag`` keeps the worst since reset."""

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.max_lag = 0.0
        self.samples: list[float] = []
        self.keep_samples = False

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            began = loop.time()
            await asyncio.sleep(self.interval)
            lag = max(0.0, loop.time() - began - self.interval)
            metrics.event_loop_lag.observe(lag)
            self.max_lag = max(self.max_lag, lag)
            if self.keep_samples:
                self.samples.append(lag)


class _GcTimer:
    """One ``gc.callbacks`` entry per process, whatever the number of apps created."""

    installed = False
    _started: dict[int, float] = {}

    @classmethod
    def install(cls) -> None:
        if not cls.installed:
            gc.callbacks.append(cls._callback)
            # Every generation's series from the start, at 0: a process that has not
            # collected yet (the projectors collect rarely: ``batch_gc_thresholds``)
            # still shows that it counts.
            for generation in range(len(gc.get_threshold())):
                metrics.gc_collections.labels(generation=str(generation))
            cls.installed = True

    @classmethod
    def _callback(cls, phase: str, info: dict[str, int]) -> None:
        generation = info.get("generation", 0)
        if phase == "start":
            cls._started[generation] = time.perf_counter()
        elif generation in cls._started:
            pause = time.perf_counter() - cls._started.pop(generation)
            label = str(generation)
            metrics.gc_pause.labels(generation=label).observe(pause)
            metrics.gc_collections.labels(generation=label).inc()


@contextlib.contextmanager
def gc_thresholds(thresholds: tuple[int, int, int]) -> Iterator[None]:
    """The collector's thresholds set to ``thresholds`` inside the ``with``, restored after."""
    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def tune_gc(thresholds: tuple[int, int, int]) -> None:
    """Freeze what start-up made out of every later walk, then collect less often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*thresholds)
    log.info(
        "gc.freeze(): %d objects moved to the permanent generation; thresholds %s",
        gc.get_freeze_count(),
        gc.get_threshold(),
    )


def memory_monitor(settings: ObservabilitySettings) -> MemoryMonitor:
    return MemoryMonitor(
        window=settings.memory_window,
        leak_bytes_per_minute=settings.memory_leak_bytes_per_minute,
        min_r2=settings.memory_leak_min_r2,
        limit_bytes=settings.memory_limit_bytes,
    )


class Monitors:
    """What one process runs in the background; ``async with Monitors(...)`` in a lifespan."""

    def __init__(
        self, settings: ObservabilitySettings | None = None, gc_thresholds: tuple[int, int, int] | None = None
    ) -> None:
        self.settings = settings or ObservabilitySettings()
        # A component that tunes its collector in every mode, with these thresholds.
        self.gc_thresholds = gc_thresholds
        self.memory = memory_monitor(self.settings)
        self.loop_lag = LoopLagProbe(self.settings.event_loop_probe_interval_seconds)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        _GcTimer.install()
        metrics.touch_defaults()
        self.memory.sample()
        self._tasks = [
            asyncio.create_task(self.loop_lag.run(), name="event-loop-lag-probe"),
            asyncio.create_task(self._sample_memory(), name="memory-monitor"),
        ]

    def started(self) -> None:
        """Call when the process finished starting (clients open, routes ready)."""
        if self.gc_thresholds is not None:
            tune_gc(self.gc_thresholds)
        elif self.settings.production:
            tune_gc(self.settings.gc_thresholds)

    async def stop(self) -> None:
        await cancel_and_wait(self._tasks)
        self._tasks = []

    async def __aenter__(self) -> Monitors:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def _sample_memory(self) -> None:
        while True:
            await asyncio.sleep(self.settings.memory_interval_seconds)
            try:
                self.memory.sample()
            except Exception:
                log.exception("memory sample failed")
