"""Where a load run's time went: CPU per process and MongoDB operations per unit of work.

Pure functions of a ``loadtests.ops.Work`` (what each process did between two readings)
and the run's counts, so they are testable without a stack. A share is of the metered
wall time: ``% of one core`` = CPU s ÷ wall s, ``% of the machine`` = CPU s ÷ (wall s ×
cores), ``share`` = of the sum of the listed processes. The machine's busy seconds over
the same time (``psutil.cpu_times``) show what no listed process accounts for (other
work on the machine, processes not found); a negative remainder means the readings were
not simultaneous enough to say (they are taken one after another, within a second).
"""

from __future__ import annotations

from collections import Counter

# What each process's MongoDB operations are counted against.
UNITS = {
    "query-api": "read (GET answered)",
    "command-api": "accepted command (relay included)",
    "projectors": "event",
    "workers": "event",
}
TOP_COMMANDS = 4


def _row(name: str, seconds: float, wall: float, cores: int, listed: float) -> dict:
    return {
        "process": name,
        "cpu_seconds": round(seconds, 2),
        "of_one_core": round(seconds / wall, 4) if wall else None,
        "of_machine": round(seconds / (wall * cores), 4) if wall and cores else None,
        "share_of_listed": round(seconds / listed, 4) if listed else None,
    }


def cpu_table(cpu: dict[str, float], machine: float, wall: float, cores: int) -> dict:
    """Rows of the listed processes (most CPU first), their sum, the machine's busy seconds
    and the remainder no listed process accounts for."""
    listed = sum(max(s, 0.0) for s in cpu.values())
    processes = sorted(cpu.items(), key=lambda item: -item[1])
    return {
        "wall_seconds": round(wall, 2),
        "cores": cores,
        "processes": [_row(name, max(s, 0.0), wall, cores, listed) for name, s in processes],
        "listed": _row("all listed", listed, wall, cores, listed),
        "machine": _row("machine total (psutil.cpu_times)", machine, wall, cores, listed),
        "not_attributed": _row("not attributed (machine − listed)", machine - listed, wall, cores, listed),
    }


def operations_table(operations: dict[str, Counter[str]], units: dict[str, int]) -> list[dict]:
    """Per process: its MongoDB operations, the top commands, and per unit of its work
    (``UNITS``; ``units``: how many of each, e.g. ``{"event": 1200}``)."""
    rows = []
    for name, counts in sorted(operations.items()):
        total = sum(counts.values())
        unit = UNITS.get(name)
        n = units.get(unit) if unit else None
        rows.append(
            {
                "process": name,
                "operations": total,
                "top": dict(counts.most_common(TOP_COMMANDS)),
                "unit": unit,
                "units": n,
                "per_unit": round(total / n, 3) if n else None,
            }
        )
    return rows


def work_figures(work, cores: int, reads: int, accepted: int, events: int) -> dict:
    """The CPU and operations tables of a run: ``reads`` GETs answered, ``accepted``
    commands (202), ``events`` appended to the store."""
    units = {UNITS["query-api"]: reads, UNITS["command-api"]: accepted, UNITS["projectors"]: events}
    return {
        **work.summary(),
        "reads_answered": reads,
        "accepted_commands": accepted,
        "events": events,
        "cpu": cpu_table(work.cpu, work.machine_cpu, work.wall_seconds, cores),
        "operations_per_unit": operations_table(work.operations, units),
        "stalls": stalls_table(work.stalls),
    }


def stalls_table(stalls: dict[str, Counter[str]]) -> list[dict]:
    """Per service: how often its event loop was late (the lag probe's ticks) and how much
    of that the garbage collector's passes explain — every request waiting in that loop,
    a cache hit included, waited as long."""
    rows = []
    for name, c in sorted(stalls.items()):
        generations = sorted({k[2:].removesuffix("_s") for k in c if k.startswith("gc")})
        rows.append(
            {
                "process": name,
                "ticks": int(c["ticks"]),
                "late_10ms": int(c["late_10ms"]),
                "late_50ms": int(c["late_50ms"]),
                "lag_seconds": round(c["lag_s"], 2),
                "gc": {g: {"passes": int(c[f"gc{g}"]), "seconds": round(c[f"gc{g}_s"], 3)} for g in generations},
            }
        )
    return rows
