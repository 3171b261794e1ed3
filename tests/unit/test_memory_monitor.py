"""The memory monitor on a real process (this one): a steady leak is flagged within the
window and its allocation site named; a steady process is not flagged."""

from __future__ import annotations

import pytest

from shared.observability import metrics
from shared.observability.memory import MB, MemoryMonitor, Sample, linear_trend

WINDOW = 8
GROWTH_PER_SAMPLE = 4 * MB


def leak_some(store: list) -> None:
    store.append(b"\x01" * GROWTH_PER_SAMPLE)  # written bytes: resident, not just reserved


def churn() -> None:
    scratch = b"\x01" * GROWTH_PER_SAMPLE
    del scratch


@pytest.fixture
def monitor():
    alerts = []
    monitor = MemoryMonitor(window=WINDOW, leak_bytes_per_minute=20 * MB, min_r2=0.8, alert_callbacks=[alerts.append])
    monitor.alerts = alerts
    yield monitor
    if monitor.tracing:
        monitor.stop_tracing()


def test_steady_leak_is_flagged_within_the_window_and_its_site_named(monitor):
    monitor.start_tracing()
    leaked: list[bytes] = []
    flagged_at = None
    for second in range(3 * WINDOW):
        leak_some(leaked)
        monitor.sample(at=float(second))  # one sample a second: 4 MB/s = 240 MB/min
        if monitor.leak_suspected:
            flagged_at = second + 1
            break
    assert flagged_at is not None and flagged_at <= WINDOW + 2, flagged_at
    assert monitor.health == "warning"
    assert [a.rule for a in monitor.alerts] == ["leak"]
    assert monitor.alerts[0].trend.bytes_per_minute > 20 * MB

    top = monitor.top_allocations(5)
    assert top, "tracemalloc named no allocation site"
    leaking_line = leak_some.__code__.co_firstlineno + 1  # the body of leak_some
    assert top[0]["site"] == f"{__file__}:{leaking_line}", top[0]
    assert top[0]["size_diff_bytes"] >= len(leaked) * GROWTH_PER_SAMPLE * 0.9

    report = monitor.report(3)
    assert report["leak_suspected"] is True and report["tracing"] is True
    assert len(report["samples"]) == WINDOW


def test_steady_process_is_not_flagged(monitor):
    for second in range(4 * WINDOW):
        churn()
        monitor.sample(at=float(second))
    assert not monitor.leak_suspected
    assert monitor.alerts == []
    assert monitor.health == "ok"


def test_alert_fires_once_per_episode_and_counts_in_the_metric():
    rss = iter(range(0, 10**12, 10 * MB))
    before = metrics.memory_alerts.labels(rule="leak")._value.get()
    monitor = MemoryMonitor(window=4, leak_bytes_per_minute=1 * MB, read_rss=lambda: next(rss))
    for second in range(12):
        monitor.sample(at=float(second))
    assert monitor.leak_suspected
    assert metrics.memory_alerts.labels(rule="leak")._value.get() == before + 1


def test_limit_makes_health_critical():
    monitor = MemoryMonitor(window=3, limit_bytes=100, alert_callbacks=[], read_rss=lambda: 200)
    monitor.sample(at=0.0)
    assert monitor.health == "critical"


def test_one_spike_then_flat_is_not_a_leak():
    values = [100 * MB] * 5 + [300 * MB] * 15
    monitor = MemoryMonitor(window=10, leak_bytes_per_minute=1 * MB, alert_callbacks=[], read_rss=iter(values).__next__)
    flagged = []
    for second in range(len(values)):
        monitor.sample(at=float(second))
        flagged.append(monitor.leak_suspected)
    assert not flagged[-1]  # once the window holds only the new plateau, no leak


def test_linear_trend_slope_and_fit():
    line = [Sample(float(t), 1000 + 60 * t) for t in range(10)]
    trend = linear_trend(line)
    assert trend.bytes_per_minute == pytest.approx(3600)
    assert trend.r2 == pytest.approx(1.0)
    assert linear_trend([Sample(0.0, 5)]).bytes_per_minute == 0.0


def test_the_512_mb_memory_alert_is_on_by_default(monkeypatch):
    from shared.observability.runtime import memory_monitor
    from shared.observability.settings import ObservabilitySettings

    monkeypatch.delenv("MERCHANT_MEMORY_LIMIT_BYTES", raising=False)
    monitor = memory_monitor(ObservabilitySettings())
    assert monitor.limit_bytes == 512 * MB
    alerts = []
    monitor.alert_callbacks = [alerts.append]
    monitor._read_rss = lambda: 512 * MB  # at the budget: still fine
    monitor.sample(at=0)
    assert monitor.health == "ok" and alerts == []
    monitor._read_rss = lambda: 513 * MB
    monitor.sample(at=15)
    assert monitor.health == "critical" and [a.rule for a in alerts] == ["limit"]
