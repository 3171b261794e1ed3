"""Counting the work: MongoDB operations and CPU seconds of the processes under test.

Every process reports each MongoDB command it issues in ``/metrics``
(``mongodb_command_duration_seconds_count{command, outcome}``, from pymongo's command
listener: ``shared.observability.mongo_monitoring``); CPU seconds come from psutil (the
process and its children, those already ended included). ``Meter`` scrapes both before and
after a stretch of work, so a harness can say *operations per accepted command* and *per
event* — summed over every process it was given (the command API with its relay, the
workers...) — beside latency, and which process used the CPU: with the machine's busy
seconds over the same wall time (``psutil.cpu_times``), what no listed process accounts for.
A projector's ``/metrics`` also says where its batches' time went (``phase_seconds``).
A process that ends between the readings loses its CPU unless its parent is listed (or it
is this harness's child: ``reaped_children``); one that cannot be read counts 0.
"""

from __future__ import annotations

import re
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import psutil
from pymongo.asynchronous.database import AsyncDatabase

_COUNT = re.compile(r"^mongodb_command_duration_seconds_count\{([^}]*)\}\s+(\S+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')
_PHASE = re.compile(r"^merchant_projector_phase_seconds_sum\{([^}]*)\}\s+(\S+)$", re.M)
_SAMPLE = re.compile(r"^merchant_(event_loop_lag|gc_pause)_seconds_(bucket|count|sum)(?:\{([^}]*)\})?\s+(\S+)$", re.M)
LATE_MS = (10, 50)  # event-loop ticks counted as late beyond these (histogram bounds)


def mongodb_operations(metrics_text: str) -> Counter[str]:
    """Operations by MongoDB command name (``insert``, ``find``, ``update``...), all outcomes."""
    counts: Counter[str] = Counter()
    for labels, value in _COUNT.findall(metrics_text):
        command = dict(_LABEL.findall(labels)).get("command", "?")
        counts[command] += int(float(value))
    return counts


def phase_seconds(metrics_text: str) -> Counter[tuple[str, str]]:
    """Seconds a projector spent in each step of its batches, by (stream, phase)
    (``merchant_projector_phase_seconds``: wall time, waiting on the store included)."""
    seconds: Counter[tuple[str, str]] = Counter()
    for labels, value in _PHASE.findall(metrics_text):
        label = dict(_LABEL.findall(labels))
        seconds[label.get("stream", "?"), label.get("phase", "?")] += float(value)
    return seconds


def stalls(metrics_text: str) -> Counter[str]:
    """What stopped a process's event loop, as counters (each process's ``/metrics``:
    ``shared.observability.runtime``): ``ticks`` of the lag probe, ``late_10ms`` and
    ``late_50ms`` (ticks that fired that much late), ``lag_s`` (their summed lateness), and
    per collector generation ``gc<n>`` passes and ``gc<n>_s`` seconds."""
    out: Counter[str] = Counter()
    bounds = {f"{ms / 1000:g}": ms for ms in LATE_MS}
    for family, kind, labels, value in _SAMPLE.findall(metrics_text):
        label = dict(_LABEL.findall(labels or ""))
        v = float(value)
        if family == "event_loop_lag":
            if kind == "count":
                out["ticks"] += v
            elif kind == "sum":
                out["lag_s"] += v
            elif (ms := bounds.get(f"{float(label.get('le', 'inf')):g}")) is not None:
                out[f"within_{ms}ms"] += v
        elif kind in ("count", "sum"):
            out[f"gc{label.get('generation', '?')}" + ("_s" if kind == "sum" else "")] += v
    for ms in LATE_MS:
        out[f"late_{ms}ms"] = out["ticks"] - out.pop(f"within_{ms}ms", 0.0)
    return out


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants (``--workers N`` counted
    whole, the PostgreSQL postmaster with every backend), the ended ones its tree has
    waited for included (``children_user``/``children_system``: no live process is in them)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy, all cores (guest time is inside user)."""
    t = psutil.cpu_times()
    return t.user + t.system + getattr(t, "nice", 0.0) + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def _rusage_seconds(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def events_appended(db: AsyncDatabase[dict[str, Any]], since: datetime) -> int:
    """Events appended to the event store since ``since`` (outcomes hold none)."""
    commits = db["commits"]
    query = {"committed_at": {"$gte": since}, "aggregate_type": {"$ne": "outcome"}}
    return sum(
        [d["last_version"] - d["version"] + 1 async for d in commits.find(query, {"version": 1, "last_version": 1})]
    )


def accepted_commands(by_name: dict[str, int]) -> int:
    """202 answers in a locust record's ``by_name`` counts (``"<request name> <status>"``)."""
    return sum(count for key, count in by_name.items() if key.rsplit(" ", 1)[-1] == "202")


@dataclass(frozen=True)
class Watched:
    """A process under test: its name, pid, and where its ``/metrics`` are (``None``: CPU only)."""

    name: str
    pid: int
    metrics_url: str | None = None


@dataclass
class Reading:
    operations: dict[str, Counter[str]] = field(default_factory=dict)  # process -> command -> count
    cpu: dict[str, float] = field(default_factory=dict)  # process -> CPU seconds
    stalls: dict[str, Counter[str]] = field(default_factory=dict)  # process -> ``stalls`` counters
    machine: float = 0.0  # the machine's busy CPU seconds, all cores
    at: float = field(default_factory=time.monotonic)


@dataclass
class Work:
    """What the processes did between two readings."""

    operations: dict[str, Counter[str]]
    cpu: dict[str, float]
    machine_cpu: float = 0.0
    wall_seconds: float = 0.0
    stalls: dict[str, Counter[str]] = field(default_factory=dict)

    @property
    def total_operations(self) -> int:
        return sum(sum(c.values()) for c in self.operations.values())

    def per(self, units: int) -> float:
        """Operations per unit of work (per accepted command, per event)."""
        return self.total_operations / units if units else float("nan")

    def summary(self) -> dict[str, object]:
        return {
            "operations": {name: dict(sorted(c.items())) for name, c in self.operations.items()},
            "total_operations": self.total_operations,
            "cpu_seconds": {name: round(s, 2) for name, s in self.cpu.items()},
            "machine_cpu_seconds": round(self.machine_cpu, 2),
            "wall_seconds": round(self.wall_seconds, 2),
        }


class Meter:
    """Readings of ``processes``; ``reaped_children``: the name under which this harness's
    ended children count (the load generator: gone by the last reading, its CPU is in the
    harness's ``RUSAGE_CHILDREN``); ``harness``: the name of this process's own CPU."""

    def __init__(self, processes: list[Watched], reaped_children: str | None = None, harness: str | None = None):
        self.processes = processes
        self.reaped_children = reaped_children
        self.harness = harness

    def read(self) -> Reading:
        reading = Reading(machine=machine_busy_seconds())
        with httpx.Client(timeout=5) as client:
            for p in self.processes:
                reading.cpu[p.name] = cpu_seconds(p.pid)
                if p.metrics_url:
                    text = client.get(p.metrics_url).text
                    reading.operations[p.name] = mongodb_operations(text)
                    reading.stalls[p.name] = stalls(text)
        if self.reaped_children:
            reading.cpu[self.reaped_children] = _rusage_seconds(resource.RUSAGE_CHILDREN)
        if self.harness:
            reading.cpu[self.harness] = _rusage_seconds(resource.RUSAGE_SELF)
        return reading

    @staticmethod
    def between(before: Reading, after: Reading) -> Work:
        operations = {
            name: Counter({k: v for k, v in (after.operations[name] - before.operations.get(name, Counter())).items()})
            for name in after.operations
        }
        # A process gone by the second reading reads 0: its CPU is lost, not negative.
        cpu = {name: max(after.cpu[name] - before.cpu.get(name, 0.0), 0.0) for name in after.cpu}
        stopped = {
            name: counters_between(after.stalls[name], before.stalls.get(name, Counter())) for name in after.stalls
        }
        return Work(operations, cpu, after.machine - before.machine, after.at - before.at, stopped)


def counters_between(after: Counter[str], before: Counter[str]) -> Counter[str]:
    return Counter({k: round(v - before.get(k, 0.0), 4) for k, v in after.items()})
