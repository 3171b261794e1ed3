"""The summary as markdown, and the PNG plots (latency over time, throughput and errors, RSS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from loadtests.scenarios import Scenario
from loadtests.summary import KNEE_ERROR_RATE, KNEE_P95_MS, TARGET_RPS, TARGETS


def _fmt(value, unit: str = "") -> str:
    return "—" if value is None else f"{value:,}{unit}" if isinstance(value, int) else f"{value:,.2f}{unit}"


def markdown(s: dict) -> str:
    o, meta = s["overall"], s["meta"]
    lines = [
        f"### {s['scenario']}: {s['description']}",
        "",
        f"Run {meta['started_utc']} UTC, {meta['seconds']:.0f} s, {meta['host']}; load generator: {meta['generator']}.",
        "",
        "| measure | result | target |",
        "|---|---:|---|",
        f"| requests | {o['requests']:,} | |",
        f"| offered peak / achieved mean requests/s | {meta['peak_rps']:.0f} / {o['achieved_rps']} | |",
        f"| p50 / p95 / p99 / max ms | {_fmt(o['p50_ms'])} / {_fmt(o['p95_ms'])} / {_fmt(o['p99_ms'])} / "
        f"{_fmt(o['max_ms'])} | p95 < {TARGETS['p95_ms']} ms |",
        f"| errors (not 2xx/304/business 409, or no answer: 429 and 503 count) | {_pct(o['error_rate'], 3)} "
        f"({o['errors']:,}) | {TARGETS['errors']} |",
        f"| 5xx other than 503 | {o['server_errors_not_503']} | 0 |",
        f"| statuses | {', '.join(f'{k}: {v:,}' for k, v in o['statuses'].items())} | 2xx/304, 409 out of stock or "
        "wrong state |",
    ]
    cache = s.get("cache") or {}
    if cache.get("hit_ratio") is not None:
        lines.append(
            f"| cache hit ratio (query API, L1+L2, over every read: shed ones count as misses) | "
            f"{cache['hit_ratio']:.1%} ({cache['mongodb_loads']:,} MongoDB loads + {cache.get('shed', 0):,} shed "
            f"/ {cache['lookups']:,} lookups) | ≥ {TARGETS['cache_hit_ratio']:.0%} |"
        )
    if cache.get("stale_ratio") is not None:
        lines.append(
            f"| of which answered stale while reloading (stale-while-revalidate, counted as hits) | "
            f"{cache['stale_ratio']:.1%} ({cache.get('stale_served', 0):,} reads, "
            f"{cache.get('background_reloads', 0):,} background reloads) | |"
        )
    for name, label in (("loads_by_cause", "why L1 missed"), ("loads_by_kind", "kind of read")):
        if cache.get(name):
            parts = ", ".join(f"{k} {v:,}" for k, v in cache[name].items())
            lines.append(f"| MongoDB loads by {label} | {parts} | |")
    lag = s.get("projection_lag") or {}
    if lag:
        lines.append(
            f"| projection lag (seconds: median / p95 / max; events behind max) | "
            f"{lag['median_seconds']} / {lag['p95_seconds']} / {lag['max_seconds']}; "
            f"{lag['max_events_behind']} | |"
        )
    for name, r in (s.get("rss") or {}).items():
        lines.append(
            f"| RSS {name} (start / end / max MB; slope after {r['fit_from_s']:.0f} s) | "
            f"{r['start_mb']} / {r['end_mb']} / {r['max_mb']}; {_fmt(r['slope_mb_per_hour'])} MB/h | "
            f"< {TARGETS['rss_mb']} MB, ≤ {TARGETS['rss_slope_mb_per_hour']} MB/h |"
        )
    if s.get("knee_rps") is not None or s["scenario"] == "stress":
        lines.append(
            f"| knee: first step with p95 > {KNEE_P95_MS} ms or errors > {KNEE_ERROR_RATE:.1%} / highest passing "
            f"step | {_fmt(s['knee_rps'])} / {_fmt(s.get('highest_passing_rps'))} requests/s | above {TARGET_RPS} |"
        )
    if c := s.get("consistency"):
        lines.append(
            f"| no accepted command lost | events in store {c['store_events']:,} · distinct on Kafka "
            f"{c['kafka_distinct_events']:,} · orders in store {c['store_orders']:,} · in read model "
            f"{c['read_model_orders']:,} · accepted (202) missing from read model "
            f"{c['accepted_missing']} | all equal, 0 missing |"
        )
    lines += target_lines(s.get("target_step")) + step_lines(s["steps"])
    lines += ["", "| request | requests | p50 ms | p95 ms | p99 ms | statuses |", "|---|---:|---:|---:|---:|---|"]
    by_kind = s.get("latency_by_kind") or {}
    for name in [
        *(k for k in by_kind if "(" in k and k.split(" (")[0] in ("reads", "commands")),
        *sorted(s["requests_by_type"]),
    ]:
        lat = by_kind.get(name, {})
        statuses = s["requests_by_type"].get(name, {})
        lines.append(
            f"| {name} | {lat.get('requests', sum(statuses.values())):,} | {_fmt(lat.get('p50_ms'))} | "
            f"{_fmt(lat.get('p95_ms'))} | {_fmt(lat.get('p99_ms'))} | "
            f"{', '.join(f'{k}: {v:,}' for k, v in sorted(statuses.items()))} |"
        )
    if w := s.get("work"):
        lines += cpu_lines(w["cpu"]) + operations_lines(w["operations_per_unit"]) + stalls_lines(w.get("stalls", []))
    if s.get("error_codes"):
        lines += [
            "",
            "Answers other than 2xx/304, by error code (409 insufficient_stock and invalid_state are not errors): "
            + ", ".join(f"{k}: {v:,}" for k, v in sorted(s["error_codes"].items()))
            + ".",
        ]
    return "\n".join(lines) + "\n"


def _pct(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}%}"


def _three(p: dict | None) -> str:
    p = p or {}
    return f"{_fmt(p.get('p50_ms'))} / {_fmt(p.get('p95_ms'))} / {_fmt(p.get('p99_ms'))}"


def step_lines(steps: list[dict]) -> list[str]:
    """Each constant step: all requests, reads and commands apart (the targets are per kind)."""
    if not steps:
        return []
    lines = [
        "",
        "| offered rps | achieved rps | all p50 / p95 / p99 ms | reads p50 / p95 / p99 ms | "
        "commands p50 / p95 / p99 ms | errors | statuses |",
        "|---:|---:|---|---|---|---:|---|",
    ]
    for st in steps:
        lines.append(
            f"| {st['offered_rps']:.0f} | {st['achieved_rps']} | {_three(st)} | {_three(st.get('reads'))} | "
            f"{_three(st.get('commands'))} | {st['errors']:,} ({_pct(st['error_rate'], 2)}) | "
            f"{', '.join(f'{k}: {v:,}' for k, v in st['statuses'].items())} |"
        )
    return lines


def target_lines(at: dict | None) -> list[str]:
    """Issue 23's targets at the target step, each met or not."""
    if not at:
        return []
    lines = [
        "",
        f"Targets at the {at['offered_rps']:.0f} requests/s step:",
        "",
        "| measure | result | target | met |",
        "|---|---:|---|---|",
    ]
    verdict = {True: "yes", False: "**no**", None: "—"}
    for c in at["checks"]:
        lines.append(f"| {c['measure']} | {_fmt(c['result'])} | {c['target']} | {verdict[c['met']]} |")
    return lines


def cpu_lines(cpu: dict) -> list[str]:
    """The CPU table: each process, their sum, the machine, and what is not attributed."""
    lines = [
        "",
        f"CPU over the {cpu['wall_seconds']:,.0f} s metered ({cpu['cores']} cores; "
        "a process counts with its children):",
        "",
        "| process | CPU s | % of one core | % of the machine | share of the listed total |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in [*cpu["processes"], cpu["listed"], cpu["machine"], cpu["not_attributed"]]:
        lines.append(
            f"| {row['process']} | {row['cpu_seconds']:,.1f} | {_pct(row['of_one_core'])} | "
            f"{_pct(row['of_machine'])} | {_pct(row['share_of_listed'])} |"
        )
    return lines


def operations_lines(rows: list[dict]) -> list[str]:
    """The MongoDB operations table: per process, the top commands and per unit of its work."""
    if not rows:
        return []
    lines = ["", "| process | MongoDB operations (top commands) | per unit |", "|---|---|---|"]
    for r in rows:
        top = ", ".join(f"{k} {v:,}" for k, v in r["top"].items())
        per = f"{_fmt(r['per_unit'])} per {r['unit']}, over {_fmt(r['units'])}" if r["unit"] else "—"
        lines.append(f"| {r['process']} | {r['operations']:,}: {top or 'none'} | {per} |")
    return lines


def stalls_lines(rows: list[dict]) -> list[str]:
    """The event-loop table: late ticks of each service's lag probe, and its GC passes."""
    if not rows:
        return []
    lines = [
        "",
        "| service event loop | probe ticks | late > 10 ms | late > 50 ms | lateness s | GC passes (s) by generation |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        gc = ", ".join(f"gen{g} {v['passes']:,} ({v['seconds']:.2f})" for g, v in r["gc"].items())
        lines.append(
            f"| {r['process']} | {r['ticks']:,} | {r['late_10ms']:,} | {r['late_50ms']:,} | "
            f"{r['lag_seconds']:.2f} | {gc or '—'} |"
        )
    return lines


def plot(record: dict, sampler, scenario: Scenario, path: Path, title: str) -> Path | None:
    """Three panels: p50/p99 per 5 s, offered vs achieved requests/s (and errors), RSS."""
    try:
        import matplotlib
    except ImportError:
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, ms, errors = record["_t"], record["_ms"], record["_error"]
    if len(t) == 0:
        return None
    bucket = 5.0
    edges = np.arange(0, t.max() + bucket, bucket)
    idx = np.digitize(t, edges) - 1
    centers, p50, p99, rps, err = [], [], [], [], []
    for i in range(len(edges) - 1):
        sel = idx == i
        if not sel.any():
            continue
        centers.append(edges[i] + bucket / 2)
        p50.append(np.percentile(ms[sel], 50))
        p99.append(np.percentile(ms[sel], 99))
        rps.append(sel.sum() / bucket)
        err.append(errors[sel].sum() / bucket)
    fig, axes = plt.subplots(3, 1, figsize=(7, 6.5), sharex=True, dpi=80)
    axes[0].plot(centers, p50, label="p50")
    axes[0].plot(centers, p99, label="p99")
    axes[0].set_yscale("log")
    axes[0].set_ylabel("latency ms")
    axes[0].legend(loc="upper left", fontsize=8)
    offered = [scenario.rate_at(x) or 0 for x in centers]
    axes[1].plot(centers, offered, "--", label="offered")
    axes[1].plot(centers, rps, label="achieved")
    axes[1].plot(centers, err, label="errors")
    axes[1].set_ylabel("requests/s")
    axes[1].legend(loc="upper left", fontsize=8)
    for name in sorted({k for row in sampler.rss for k in row if k != "t"}):
        pts = [(row["t"], row[name] / 2**20) for row in sampler.rss if row.get(name)]
        if pts:
            axes[2].plot(*zip(*pts, strict=True), label=name)
    axes[2].set_ylabel("RSS MB")
    axes[2].set_xlabel("seconds")
    axes[2].legend(loc="upper left", fontsize=7, ncol=3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
