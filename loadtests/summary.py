"""The run's summary against the targets: latency, rate, errors, statuses, RSS, cache, lag.

Pure functions of what the run recorded (locustfile ``Recorder`` JSON, ``Sampler`` lists
and the scenario), so they are testable without a stack.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from loadtests.scenarios import Scenario, steps_of
from query_api.adapters.cache import stats as cache_stats

OK = {200, 201, 202, 304}
# The targets (ARCHITECTURE.md: the original system's, and ours from issue 8).
TARGETS = {"p95_ms": 200, "p99_ms_goal": 20, "error_rate": 0.01, "rss_mb": 512, "cache_hit_ratio": 0.80}
KNEE_P99_MS = 100
RSS_WARM_UP_SECONDS = 60


def percentiles(ms) -> dict:
    if len(ms) == 0:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    return {
        "p50_ms": round(float(p50), 2),
        "p95_ms": round(float(p95), 2),
        "p99_ms": round(float(p99), 2),
        "max_ms": round(float(np.max(ms)), 2),
    }


def status_class(status: int) -> str:
    return "failed (no answer)" if status == 0 else str(status)


def window(record: dict, start: float, end: float) -> dict:
    """Figures of the requests sent in [start, end)."""
    t, ms, st = record["_t"], record["_ms"], record["_status"]
    mask = (t >= start) & (t < end)
    statuses = Counter(int(s) for s in st[mask])
    n = int(mask.sum())
    errors = sum(c for s, c in statuses.items() if s not in OK)
    return {
        "requests": n,
        "achieved_rps": round(n / (end - start), 1) if end > start else None,
        **percentiles(ms[mask]),
        "errors": errors,
        "error_rate": round(errors / n, 5) if n else None,
        "statuses": {status_class(s): c for s, c in sorted(statuses.items())},
        "server_errors_not_503": sum(c for s, c in statuses.items() if s >= 500 and s != 503),
    }


def prepare(record: dict) -> dict:
    record["_t"] = np.asarray(record["t"], dtype=float)
    record["_ms"] = np.asarray(record["ms"], dtype=float)
    record["_status"] = np.asarray(record["status"], dtype=int)
    record["_kind"] = np.asarray(record.get("kind", []), dtype=int)
    return record


def latency_by_kind(record: dict) -> dict:
    """Percentiles of storefront reads (GET), of commands (POST) and of each request kind."""
    kinds, kind, ms = record.get("kinds", []), record["_kind"], record["_ms"]
    if len(kind) != len(ms):
        return {}
    gets = np.isin(kind, [i for i, k in enumerate(kinds) if k.startswith("GET")])
    out = {
        "reads (GET)": {"requests": int(gets.sum()), **percentiles(ms[gets])},
        "commands (POST)": {"requests": int((~gets).sum()), **percentiles(ms[~gets])},
    }
    for i, name in enumerate(kinds):
        sel = kind == i
        out[name] = {"requests": int(sel.sum()), **percentiles(ms[sel])}
    return out


def rss_figures(rss: list[dict], warm_up: float = RSS_WARM_UP_SECONDS) -> dict:
    """Per process: start/end/max MB and the slope (MB/hour) of a line fitted after warm-up."""
    names = sorted({k for row in rss for k in row if k != "t"})
    out = {}
    for name in names:
        points = [(row["t"], row[name] / 2**20) for row in rss if row.get(name)]
        if not points:
            continue
        t, mb = np.array(points).T
        late = t >= min(warm_up, t[-1] / 2)
        slope = float(np.polyfit(t[late], mb[late], 1)[0]) * 3600 if late.sum() >= 3 else None
        out[name] = {
            "start_mb": round(mb[0], 1),
            "end_mb": round(mb[-1], 1),
            "max_mb": round(mb.max(), 1),
            "slope_mb_per_hour": None if slope is None else round(slope, 1),
            "fit_from_s": round(float(t[late][0]), 0) if late.any() else None,
        }
    return out


def cache_figures(cache: list[dict]) -> dict:
    """The hit ratio over the run, from the differences of the query API's counters between
    its first and last sample: over every cacheable read, the ones load shedding refused
    included (``query_api.adapters.cache.stats.hit_ratio``)."""
    if len(cache) < 2:
        return {}
    first, last = cache[0], cache[-1]
    run = {k: last.get(k, 0) - first.get(k, 0) for k in ("l1_hits", "l1_misses", "l2_hits", "l3_loads", "shed")}
    return {
        "lookups": cache_stats.lookups(run),
        "l1_hits": run["l1_hits"],
        "l2_hits": run["l2_hits"],
        "mongodb_loads": run["l3_loads"],
        "shed": run["shed"],
        "hit_ratio": cache_stats.hit_ratio(run),
    }


def lag_figures(lag: list[dict]) -> dict:
    seconds = [max(row["seconds"].values()) for row in lag if row.get("seconds")]
    events = [max(row["events"].values()) for row in lag if row.get("events")]
    if not seconds:
        return {}
    return {
        "max_seconds": round(max(seconds), 3),
        "p95_seconds": round(float(np.percentile(seconds, 95)), 3),
        "median_seconds": round(float(np.median(seconds)), 3),
        "max_events_behind": max(events) if events else None,
        "end_events_behind": events[-1] if events else None,
    }


def reads_answered(record: dict) -> int:
    """Storefront and dashboard reads (GET) that got an answer, whatever its status."""
    kinds, kind, status = record.get("kinds", []), record["_kind"], record["_status"]
    if len(kind) != len(status):
        return 0
    gets = np.isin(kind, [i for i, k in enumerate(kinds) if k.startswith("GET")])
    return int((gets & (status != 0)).sum())


def knee(steps: list[dict]) -> float | None:
    """The highest offered rate whose step had p99 < 100 ms and no errors (all steps below it too)."""
    best = None
    for step in steps:
        if step["p99_ms"] is None or step["p99_ms"] >= KNEE_P99_MS or step["errors"]:
            break
        best = step["offered_rps"]
    return best


def summarise(record: dict, scenario: Scenario, sampler, consistency: dict | None, meta: dict) -> dict:
    prepare(record)
    overall = window(record, 0, float(record["_t"].max()) + 1e-9 if len(record["_t"]) else 0)
    steps = [
        {"offered_rps": rate, "from_s": start, **window(record, start, end)} for start, end, rate in steps_of(scenario)
    ]
    by_name: dict[str, dict] = {}
    for key, count in record["by_name"].items():
        name, status = key.rsplit(" ", 1)
        by_name.setdefault(name, {})[status] = count
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "meta": meta,
        "overall": overall,
        "steps": steps,
        "requests_by_type": by_name,
        "latency_by_kind": latency_by_kind(record),
        "knee_rps": knee(steps) if scenario.name == "stress" else None,
        "rss": rss_figures(sampler.rss),
        "cache": cache_figures(sampler.cache),
        "projection_lag": lag_figures(sampler.lag),
        "consistency": consistency,
        "orders_accepted": len(record["orders_accepted"]),
        "error_codes": record.get("error_codes", {}),
        "targets": TARGETS,
    }
