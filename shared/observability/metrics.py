"""Every metric the merchant processes export — one module, so any component can record.

Usage from any code (no set-up needed; the objects live in prometheus-client's default
registry, which is process-wide by design — Prometheus scrapes a process, not an object)::

    from shared.observability import metrics
    metrics.cache_hits.labels(level="l1").inc()
    metrics.job_retries.labels(kind="email").inc()
    with metrics.time(metrics.projection_batch_seconds.labels(projection="catalog")): ...

Labels stay bounded: routes are templates (``/v1/products/{product_id}``), never raw
paths; no merchant or order ids as labels.

With several processes (``merchant serve ... --workers N``) set
``PROMETHEUS_MULTIPROC_DIR`` (``serve`` does it) and ``/metrics`` aggregates every
worker; each gauge below says how (``multiprocess_mode``).
"""

from __future__ import annotations

import contextlib
import time as _time
from collections.abc import Iterator

from prometheus_client import Counter, Gauge, Histogram

# Latency buckets from 1 ms to 10 s: the targets are p95 < 200 ms (HTTP), < 50 ms (DB).
LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)

# -- HTTP (shared.observability.http records these for every Starlette app) ------------
http_requests = Counter("http_requests_total", "HTTP requests answered.", ["service", "method", "route", "status"])
http_request_duration = Histogram(
    "http_request_duration_seconds", "HTTP request latency.", ["service", "method", "route"], buckets=LATENCY
)
http_in_flight = Gauge(
    "http_requests_in_flight", "HTTP requests being handled.", ["service"], multiprocess_mode="livesum"
)
http_errors = Counter(
    "http_request_errors_total",
    "HTTP requests that failed: 5xx answers and unhandled exceptions.",
    ["service", "route", "kind"],
)

# -- Cache (query API's L1/L2; levels: l1, l2, l3 = read model) --------------------------
cache_hits = Counter("cache_hits_total", "Cache hits per level.", ["level"])
cache_misses = Counter("cache_misses_total", "Cache misses per level.", ["level"])
cache_invalidations = Counter("cache_invalidations_total", "Cache entries invalidated.", ["level"])

# -- Kafka consumers (shared.observability.stream polls and records these) ---------------
kafka_consumer_lag = Gauge(
    "kafka_consumer_lag",
    "Messages behind the end of the partition (end offset - committed offset).",
    ["group", "topic", "partition"],
    multiprocess_mode="liveall",
)
kafka_messages_consumed = Counter(
    "kafka_messages_consumed_total", "Kafka messages handled.", ["group", "topic", "outcome"]
)
kafka_handler_duration = Histogram(
    "kafka_handler_duration_seconds", "Time to handle one message or batch.", ["group"], buckets=LATENCY
)

# -- Projections --------------------------------------------------------------------------
projection_lag_events = Gauge(
    "projection_lag_events", "Events not yet applied by a projection.", ["projection"], multiprocess_mode="livesum"
)
projection_lag_seconds = Gauge(
    "projection_lag_seconds",
    "Age of the newest event a projection applied, when applied.",
    ["projection"],
    multiprocess_mode="livemax",
)
projection_batch_seconds = Histogram(
    "projection_batch_seconds", "Time to apply one batch.", ["projection"], buckets=LATENCY
)
projector_phase_seconds = Histogram(
    "merchant_projector_phase_seconds",
    "Time one batch spent in each step of projectors.application.engine (read, fold, plan, "
    "views, derivations, states, parkings): where a catch-up's time goes.",
    ["stream", "phase"],
    buckets=LATENCY,
)
projector_batch_limit = Gauge(
    "merchant_projector_batch_limit",
    "Most events the stream's next batch may hold, retuned after each batch so that one takes "
    "about PROJECTOR_BATCH_SECONDS (projectors.application.batch_limit).",
    ["stream"],
    multiprocess_mode="liveall",
)

# -- Jobs (workers) -----------------------------------------------------------------------
jobs_processed = Counter("jobs_processed_total", "Jobs finished.", ["kind", "outcome"])
job_retries = Counter("job_retries_total", "Job attempts retried after a failure.", ["kind"])
job_dead_letters = Counter("job_dead_letters_total", "Jobs sent to the dead-letter topic.", ["kind"])
job_duration = Histogram("job_duration_seconds", "Time to run one job.", ["kind"], buckets=LATENCY)

# -- MongoDB (shared.observability.mongo_monitoring, via pymongo's event listeners) -------
mongodb_pool_size = Gauge(
    "mongodb_pool_connections", "Open connections in the pool.", ["address"], multiprocess_mode="livesum"
)
mongodb_pool_in_use = Gauge(
    "mongodb_pool_connections_in_use", "Connections checked out.", ["address"], multiprocess_mode="livesum"
)
mongodb_pool_wait = Histogram("mongodb_pool_checkout_seconds", "Time to check out a connection.", buckets=LATENCY)
mongodb_command_duration = Histogram(
    "mongodb_command_duration_seconds", "MongoDB command latency.", ["command", "outcome"], buckets=LATENCY
)

# -- Process and runtime (shared.observability.runtime / memory) --------------------------
process_rss = Gauge(
    "merchant_process_rss_bytes", "Resident set size, sampled by the memory monitor.", multiprocess_mode="liveall"
)
memory_growth = Gauge(
    "merchant_memory_growth_bytes_per_minute",
    "RSS trend over the monitor's window (linear regression slope).",
    multiprocess_mode="liveall",
)
memory_leak_suspected = Gauge(
    "merchant_memory_leak_suspected",
    "1 while the leak rule holds (sustained growth above threshold).",
    multiprocess_mode="livemax",
)
memory_alerts = Counter("merchant_memory_alerts_total", "Memory alerts raised.", ["rule"])
gc_collections = Counter("merchant_gc_collections_total", "Garbage collections.", ["generation"])
gc_pause = Histogram(
    "merchant_gc_pause_seconds",
    "Garbage collection pause.",
    ["generation"],
    buckets=(0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)
event_loop_lag = Histogram(
    "merchant_event_loop_lag_seconds",
    "How late a timer fired: time the loop was blocked.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)

relay_parked = Counter(
    "merchant_relay_parked_aggregates_total",
    "Aggregates parked by the outbox relay: a commit Kafka refuses (their later commits wait).",
)
projector_parked = Counter(
    "merchant_projector_parked_aggregates_total",
    "Aggregates parked by a projector: an event it cannot apply (their later events wait).",
    ["stream"],
)

# -- Business -----------------------------------------------------------------------------
orders_placed = Counter("merchant_orders_placed_total", "Orders placed.")
order_value = Counter("merchant_order_value_minor_total", "Value of placed orders, minor units.", ["currency"])
active_merchants = Gauge(
    "merchant_active_merchants", "Merchants with domain activity in the last 15 minutes.", multiprocess_mode="max"
)
order_processing = Histogram(
    "merchant_order_processing_seconds",
    "Order placed → shipped.",
    buckets=(60, 300, 900, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400),
)
payments = Counter(
    "merchant_payments_total", "Payment outcomes; success rate = succeeded / (succeeded + failed).", ["outcome"]
)


@contextlib.contextmanager
def time(histogram: Histogram) -> Iterator[None]:
    """Observe the duration of the block (in seconds) on a histogram (or labelled child)."""
    began = _time.perf_counter()
    try:
        yield
    finally:
        histogram.observe(_time.perf_counter() - began)


def touch_defaults() -> None:
    """Create the label sets every dashboard expects, so they show 0 rather than nothing."""
    for level in ("l1", "l2", "l3"):
        cache_hits.labels(level=level)
        cache_misses.labels(level=level)
    for outcome in ("succeeded", "failed"):
        payments.labels(outcome=outcome)
