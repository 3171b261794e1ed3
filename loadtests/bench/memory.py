"""RSS of the processes under test, sampled over the whole run.

A thread, not an asyncio task: the event loop is busy driving load, and a sampler on it
would go quiet exactly when the load is highest.
"""

from __future__ import annotations

import threading
import time

import psutil


def tree_rss(process: psutil.Process, children: bool = True) -> int:
    """RSS of a process and its children (a ``merchant serve`` may fork a server)."""
    total = process.memory_info().rss
    for child in process.children(recursive=True) if children else ():
        try:
            total += child.memory_info().rss
        except psutil.Error:
            pass
    return total


class MemoryMonitor:
    def __init__(self, zero: float, interval: float = 0.5) -> None:
        self.zero, self.interval = zero, interval
        self.samples: dict[str, list[tuple[float, float]]] = {}  # label -> (seconds, MiB)
        self._watched: dict[str, tuple[psutil.Process, bool]] = {}  # label -> (process, with children)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-rss", daemon=True)

    def watch(self, label: str, pid: int, children: bool = True) -> None:
        with self._lock:
            self._watched[label] = (psutil.Process(pid), children)

    def forget(self, label: str) -> None:
        with self._lock:
            self._watched.pop(label, None)

    def sample(self) -> None:
        now = time.perf_counter() - self.zero
        with self._lock:
            watched = list(self._watched.items())
        for label, (process, children) in watched:
            try:
                rss = tree_rss(process, children)
            except psutil.Error:  # exited between two samples
                continue
            self.samples.setdefault(label, []).append((now, rss / 2**20))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemoryMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
