"""The run's summary against the targets: latency, rate, errors, statuses, RSS, cache, lag.

Pure functions of what the run recorded (locustfile ``Recorder`` JSON, ``Sampler`` lists
and the scenario), so they are testable without a stack. An error is what
``loadtests.outcomes`` says (not 2xx/304/business 409, or no answer), as the locustfile
recorded it per request; a record without that verdict (older runs) counts every answer
but 2xx/304 as one. The targets are issue 23's "Must show"; the stress knee is the first
step whose p95 exceeds 200 ms or whose error rate exceeds 0.1 %.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from loadtests.outcomes import is_success_status
from loadtests.scenarios import Scenario, steps_of
from query_api.adapters.cache import stats as cache_stats

# Issue 23's "Must show", at the target step (the highest offered rate up to 500/s): all
# requests p95 < 200 ms, reads p95 ≤ 50 and p99 ≤ 200 ms, commands p95 ≤ 300 ms, 0 errors;
# over the run: RSS < 512 MB per process, flat (≤ 10 MB/h after warm-up), hit ratio ≥ 95 %.
TARGETS = {
    "p95_ms": 200,
    "reads_p95_ms": 50,
    "reads_p99_ms": 200,
    "commands_p95_ms": 300,
    "errors": 0,
    "rss_mb": 512,
    "rss_slope_mb_per_hour": 10,
    "cache_hit_ratio": 0.95,
}
TARGET_RPS = 500
KNEE_P95_MS = 200
KNEE_ERROR_RATE = 0.001
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


def _by_kind(ms, mask, gets) -> dict:
    """Reads (GET) and commands (POST) apart, when the record names each request's kind."""
    if gets is None:
        return {}
    return {
        "reads": {"requests": int((mask & gets).sum()), **percentiles(ms[mask & gets])},
        "commands": {"requests": int((mask & ~gets).sum()), **percentiles(ms[mask & ~gets])},
    }


def window(record: dict, start: float, end: float) -> dict:
    """Figures of the requests sent in [start, end)."""
    t, ms, st = record["_t"], record["_ms"], record["_status"]
    mask = (t >= start) & (t < end)
    statuses = Counter(int(s) for s in st[mask])
    n = int(mask.sum())
    errors = int(record["_error"][mask].sum())
    return {
        "requests": n,
        "achieved_rps": round(n / (end - start), 1) if end > start else None,
        **percentiles(ms[mask]),
        **_by_kind(ms, mask, record["_get"]),
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
    kinds = record.get("kinds", [])
    known = len(record["_kind"]) == len(record["_ms"])
    record["_get"] = (
        np.isin(record["_kind"], [i for i, k in enumerate(kinds) if k.startswith("GET")]) if known else None
    )
    verdicts = record.get("error")
    record["_error"] = (
        np.asarray(verdicts, dtype=bool)
        if verdicts is not None and len(verdicts) == len(record["_status"])
        else np.array([not is_success_status(int(s)) for s in record["_status"]], dtype=bool)
    )
    return record


def latency_by_kind(record: dict) -> dict:
    """Percentiles of storefront reads (GET), of commands (POST) and of each request kind."""
    kinds, kind, ms, gets = record.get("kinds", []), record["_kind"], record["_ms"], record["_get"]
    if gets is None:
        return {}
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
    included (``query_api.adapters.cache.stats.hit_ratio``). Reads answered at once with a
    stale entry while it reloaded (stale-while-revalidate) are hits by that definition (the
    one reload is the MongoDB load) and are given apart: ``stale_served``, ``stale_ratio``.
    ``loads_by_cause`` / ``loads_by_kind``: the MongoDB loads by why L1 missed and by kind
    of read (``query_api.adapters.cache.stats``)."""
    if len(cache) < 2:
        return {}
    first, last = cache[0], cache[-1]
    counters = ("l1_hits", "l1_misses", "l2_hits", "l3_loads", "shed", "stale_served", "background_reloads")
    run = {k: last.get(k, 0) - first.get(k, 0) for k in counters}
    return {
        "lookups": cache_stats.lookups(run),
        "l1_hits": run["l1_hits"],
        "l2_hits": run["l2_hits"],
        "mongodb_loads": run["l3_loads"],
        "shed": run["shed"],
        "hit_ratio": cache_stats.hit_ratio(run),
        "stale_served": run["stale_served"],
        "background_reloads": run["background_reloads"],
        "stale_ratio": cache_stats.stale_ratio(run),
        "loads_by_cause": _difference(first, last, "loads_by_cause"),
        "loads_by_kind": _difference(first, last, "loads_by_kind"),
    }


def _difference(first: dict, last: dict, name: str) -> dict[str, int]:
    """A per-label counter over the run, largest first (labels that did not move left out)."""
    before, after = first.get(name) or {}, last.get(name) or {}
    run = {k: v - before.get(k, 0) for k, v in after.items()}
    return dict(sorted(((k, v) for k, v in run.items() if v), key=lambda kv: -kv[1]))


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
    gets = record["_get"]
    return 0 if gets is None else int((gets & (record["_status"] != 0)).sum())


def passes_knee_test(step: dict) -> bool:
    """p95 ≤ 200 ms and errors ≤ 0.1 % (a step with no requests proves nothing: it fails)."""
    p95, rate = step["p95_ms"], step["error_rate"]
    return p95 is not None and rate is not None and p95 <= KNEE_P95_MS and rate <= KNEE_ERROR_RATE


def knee(steps: list[dict]) -> dict:
    """The first step that fails ``passes_knee_test`` (the knee) and the one below it (the
    highest passing step); ``None`` where there is no such step."""
    passing = None
    for step in steps:
        if not passes_knee_test(step):
            return {"knee_rps": step["offered_rps"], "highest_passing_rps": passing}
        passing = step["offered_rps"]
    return {"knee_rps": None, "highest_passing_rps": passing}


def target_step(steps: list[dict]) -> dict | None:
    """The step the latency targets are read at: the highest offered rate up to 500/s (the
    spike's peak), else the lowest step."""
    upto = [s for s in steps if s["offered_rps"] <= TARGET_RPS]
    if upto:
        return max(upto, key=lambda s: s["offered_rps"])
    return min(steps, key=lambda s: s["offered_rps"]) if steps else None


def target_checks(step: dict) -> list[dict]:
    """Issue 23's latency and error targets, each met or not (``None``: nothing to judge), at one step."""
    reads, commands = step.get("reads") or {}, step.get("commands") or {}
    checks = [
        ("all requests p95 ms", step["p95_ms"], TARGETS["p95_ms"], True),
        ("reads p95 ms", reads.get("p95_ms"), TARGETS["reads_p95_ms"], False),
        ("reads p99 ms", reads.get("p99_ms"), TARGETS["reads_p99_ms"], False),
        ("commands p95 ms", commands.get("p95_ms"), TARGETS["commands_p95_ms"], False),
        ("errors", step["errors"], TARGETS["errors"], False),
    ]
    return [
        {
            "measure": measure,
            "result": value,
            "target": f"{'<' if strict else '≤'} {limit}",
            "met": None if value is None else value < limit if strict else value <= limit,
        }
        for measure, value, limit, strict in checks
    ]


def summarise(record: dict, scenario: Scenario, sampler, consistency: dict | None, meta: dict) -> dict:
    prepare(record)
    overall = window(record, 0, float(record["_t"].max()) + 1e-9 if len(record["_t"]) else 0)
    steps = [
        {"offered_rps": rate, "from_s": start, **window(record, start, end)} for start, end, rate in steps_of(scenario)
    ]
    at = target_step(steps)
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
        **(knee(steps) if scenario.name == "stress" else {"knee_rps": None, "highest_passing_rps": None}),
        "target_step": None if at is None else {"offered_rps": at["offered_rps"], "checks": target_checks(at)},
        "rss": rss_figures(sampler.rss),
        "cache": cache_figures(sampler.cache),
        "projection_lag": lag_figures(sampler.lag),
        "consistency": consistency,
        "orders_accepted": len(record["orders_accepted"]),
        "error_codes": record.get("error_codes", {}),
        "targets": TARGETS,
    }
