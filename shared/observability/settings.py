"""Operability settings, shared by every process (prefix ``MERCHANT_``).

Kept apart from ``shared.settings`` so each process class stays about its own job; these
apply the same way to all of them.
"""

from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

# Where each component's ops listener (/metrics, /ops/*) listens when MERCHANT_METRICS_PORT
# is not set; several stream processes of one component take consecutive ports (9101,
# 9102 ...); the workers of one HTTP service share theirs (the first to bind serves it).
DEFAULT_METRICS_PORTS = {"command-api": 9001, "query-api": 9002, "projectors": 9101, "workers": 9111}


class ObservabilitySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MERCHANT_", extra="ignore")

    env: Literal["development", "production"] = "development"
    log_format: Literal["json", "text"] = "json"
    log_level: str = "INFO"
    # Level of every library's logger (uvicorn, aiokafka, FastStream); default: log_level.
    # `merchant dev` sets WARNING (and the text format) unless told otherwise.
    log_library_level: str | None = None
    # The ops listener (/metrics, /ops/*) of every process, apart from the public ports.
    # 0 disables it. Loopback by default; 0.0.0.0 for a remote Prometheus needs the token
    # in production (shared.production_checks).
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    # If set, the ops listener's routes (all but /health/*) require
    # ``Authorization: Bearer <token>``: /metrics too (Prometheus sends it, see infra/prometheus).
    ops_token: str = ""
    # One JSON line per HTTP request (with its correlation id). Default: on in development,
    # off in production (at thousands of requests per second it costs a few percent).
    access_log: bool | None = None

    # Memory monitor: one RSS sample every interval; the leak rule looks at the last
    # ``memory_window`` samples (see shared.observability.memory).
    memory_interval_seconds: float = 15.0
    memory_window: int = 20
    memory_leak_bytes_per_minute: float = 2 * 1024 * 1024
    memory_leak_min_r2: float = 0.8
    # Above this RSS the process raises the memory alert (a warning log and
    # merchant_memory_alerts_total{rule="limit"}) and reports not ready, so a load balancer
    # drains it. On by default at the budget of 512 MB per process; 0 turns it off.
    memory_limit_bytes: int = 512 * 1024 * 1024
    event_loop_probe_interval_seconds: float = 0.25
    # Production only: the collector's thresholds once start-up is done (``gc.set_threshold``;
    # CPython's default is 700, 10, 10). A process under load allocates fast, and with the
    # default every 700 container objects start a pass; each pass stops the event loop, and
    # the full ones (which scan every cached entry) stopped the query API for 25-250 ms
    # under the spike scenario (docs/benchmarks.md). Far fewer passes scan the same garbage.
    gc_thresholds: tuple[int, int, int] = (20_000, 20, 20)
    # The projectors', in every mode (``Monitors.started``): a catch-up batch holds
    # thousands of events, states and documents and allocates hundreds of thousands of
    # short-lived dicts, next to none in cycles; at 700, 10, 10 a full-size catch-up ran a
    # full collection every 2.5 s over a 500 MB heap and py-spy put 21 % of the projector's
    # samples on the line they ran on (2026-12-06 23:26 UTC); at these, none was left there.
    batch_gc_thresholds: tuple[int, int, int] = (50_000, 20, 20)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def access_log_enabled(self) -> bool:
        return (not self.production) if self.access_log is None else self.access_log

    def metrics_port_for(self, component: str) -> int:
        if self.metrics_port is not None:
            return self.metrics_port
        return DEFAULT_METRICS_PORTS.get(component, 0)
