"""Counting the work: MongoDB operations and CPU seconds of the processes under test.

Every process reports each MongoDB command it issues in ``/metrics``
(``mongodb_command_duration_seconds_count{command, outcome}``, from pymongo's command
listener: ``shared.observability.mongo_monitoring``); CPU seconds come from psutil (the
process and its children). ``Meter`` scrapes both before and after a stretch of work, so
a harness can say *operations per accepted command* and *per event* — summed over every
process it was given (the command API with its relay, the workers...) — beside latency.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import psutil
from pymongo.asynchronous.database import AsyncDatabase

_COUNT = re.compile(r"^mongodb_command_duration_seconds_count\{([^}]*)\}\s+(\S+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def mongodb_operations(metrics_text: str) -> Counter[str]:
    """Operations by MongoDB command name (``insert``, ``find``, ``update``...), all outcomes."""
    counts: Counter[str] = Counter()
    for labels, value in _COUNT.findall(metrics_text):
        command = dict(_LABEL.findall(labels)).get("command", "?")
        counts[command] += int(float(value))
    return counts


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its children (``--workers N`` counted whole)."""
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
        total += times.user + times.system
    return total


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


@dataclass
class Work:
    """What the processes did between two readings."""

    operations: dict[str, Counter[str]]
    cpu: dict[str, float]

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
        }


class Meter:
    def __init__(self, processes: list[Watched]) -> None:
        self.processes = processes

    def read(self) -> Reading:
        reading = Reading()
        with httpx.Client(timeout=5) as client:
            for p in self.processes:
                reading.cpu[p.name] = cpu_seconds(p.pid)
                if p.metrics_url:
                    reading.operations[p.name] = mongodb_operations(client.get(p.metrics_url).text)
        return reading

    @staticmethod
    def between(before: Reading, after: Reading) -> Work:
        operations = {
            name: Counter({k: v for k, v in (after.operations[name] - before.operations.get(name, Counter())).items()})
            for name in after.operations
        }
        cpu = {name: after.cpu[name] - before.cpu.get(name, 0.0) for name in after.cpu}
        return Work(operations, cpu)
