"""Observability for the FastStream apps (projectors, workers): one call in ``create_app``.

    app = FastStream(broker, ...)
    instrument_faststream(app, "projectors")

adds a broker middleware (messages handled, handler time, the event's correlation id in
the log context and one correlated log line per message or batch, projection lag in
seconds), a poller for consumer lag per group and partition (end offset − committed
offset, every few seconds), the process monitors, and the ops listener on the metrics
port: ``/metrics``, ``/health/live``, ``/health/ready`` and ``/ops/memory``
(``shared.observability.ops_listener``; in production, refused when open beyond loopback
without a token).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from faststream import BaseMiddleware, FastStream
from faststream.message import StreamMessage
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.observability import metrics
from shared.observability.logs import correlated
from shared.observability.ops_listener import OpsListener, ops_app
from shared.observability.runtime import Monitors, cancel_and_wait
from shared.observability.settings import ObservabilitySettings
from shared.production_checks import open_ops_surface, refuse_unsafe

log = logging.getLogger("merchant.stream")
# A catch-up batch holds a thousand commands' events: listing them all made each line ~40 kB.
LOGGED_CORRELATION_IDS = 50


def _records(raw: Any) -> tuple[Any, ...]:
    return tuple(raw) if isinstance(raw, (tuple, list)) else (raw,)


def _correlation_ids(records: tuple[Any, ...]) -> list[str]:
    ids: dict[str, None] = {}  # an ordered set
    for record in records:
        for key, value in record.headers or ():
            if key == "correlation_id":
                ids[value.decode("utf-8", "replace")] = None
    return list(ids)


def logged_correlation_ids(ids: list[str]) -> dict[str, Any]:
    """The batch's correlation ids for its log line: the first ``LOGGED_CORRELATION_IDS``
    and how many there were."""
    return {"correlation_ids": ids[:LOGGED_CORRELATION_IDS], "correlation_ids_total": len(ids)}


def stream_middleware(projections: bool) -> type[BaseMiddleware]:
    class StreamObservability(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
            subscriber = self.context.get_local("handler_")
            group = getattr(subscriber, "group_id", None) or "-"
            records = _records(msg.raw_message)
            topic = getattr(records[0], "topic", "-")
            ids = _correlation_ids(records)
            began = time.perf_counter()
            with correlated(ids[0] if len(ids) == 1 else None):
                try:
                    result = await call_next(msg)
                except BaseException:
                    metrics.kafka_messages_consumed.labels(group, topic, "error").inc(len(records))
                    raise
                finally:
                    elapsed = time.perf_counter() - began
                    metrics.kafka_handler_duration.labels(group).observe(elapsed)
                metrics.kafka_messages_consumed.labels(group, topic, "ok").inc(len(records))
                log.info(
                    "handled %d message(s) from %s",
                    len(records),
                    topic,
                    extra={
                        "group": group,
                        "topic": topic,
                        "messages": len(records),
                        **logged_correlation_ids(ids),
                        "seconds": round(elapsed, 4),
                    },
                )
            if projections:
                newest = max((r.timestamp for r in records if r.timestamp), default=None)
                if newest is not None:
                    metrics.projection_lag_seconds.labels(group).set(max(0.0, time.time() - newest / 1000))
                metrics.projection_batch_seconds.labels(group).observe(elapsed)
            return result

    return StreamObservability


def assigned(app: FastStream) -> dict[str, int]:
    """``{"subscribed": consumers started, "assigned": those that have partitions}``."""
    consumers = [
        consumer
        for broker in app.brokers
        for subscriber in broker.subscribers
        if (consumer := getattr(subscriber, "consumer", None)) is not None
    ]
    return {"subscribed": len(consumers), "assigned": sum(bool(c.assignment()) for c in consumers)}


async def poll_consumer_lag(app: FastStream, projections: bool, interval: float = 5.0) -> None:
    seen: set[tuple[str, str, str]] = set()
    while True:
        current: set[tuple[str, str, str]] = set()
        for broker in app.brokers:
            for subscriber in broker.subscribers:
                consumer = getattr(subscriber, "consumer", None)
                group = getattr(subscriber, "group_id", None)
                if consumer is None or not group:
                    continue
                try:
                    current |= await _record_lag(consumer, group, projections)
                except Exception as exc:  # a rebalance or a broker hiccup: next round
                    log.debug("consumer lag poll failed for %s: %s", group, exc)
        for gone in seen - current:  # partitions moved to another process
            with contextlib.suppress(KeyError):
                metrics.kafka_consumer_lag.remove(*gone)
        seen = current
        # Until partitions are assigned, look again soon: the lag gauge appearing is how an
        # operator (and a test) sees that the group has joined.
        await asyncio.sleep(interval if current else 1.0)


async def _record_lag(consumer: Any, group: str, projections: bool) -> set[tuple[str, str, str]]:
    partitions = list(consumer.assignment())
    if not partitions:
        return set()
    ends = await consumer.end_offsets(partitions)
    labels: set[tuple[str, str, str]] = set()
    total = 0
    for tp in partitions:
        committed = await consumer.committed(tp) or 0
        lag = max(0, ends[tp] - committed)
        key = (group, tp.topic, str(tp.partition))
        metrics.kafka_consumer_lag.labels(*key).set(lag)
        labels.add(key)
        total += lag
    if projections:
        metrics.projection_lag_events.labels(group).set(total)
    return labels


def stream_health(monitors: Monitors, app: FastStream) -> list[Route]:
    async def ready(request: Request) -> Response:
        """Ready once start-up finished (subscribers running) and memory is within budget.
        ``consumers`` says how many of the subscribers' consumers have partitions yet —
        for information only: with more members than partitions a consumer has none."""
        started = bool(getattr(app, "running", False))
        checks = {"started": "ok" if started else "failing", "memory": monitors.memory.health}
        ok = started and monitors.memory.health != "critical"
        body = orjson.dumps({"status": "ready" if ok else "not_ready", "checks": checks, "consumers": assigned(app)})
        return Response(body, status_code=200 if ok else 503, media_type="application/json")

    return [Route("/health/ready", ready)]


def instrument_faststream(app: FastStream, component: str, settings: ObservabilitySettings | None = None) -> FastStream:
    settings = settings or ObservabilitySettings()
    projections = component == "projectors"
    for broker in app.brokers:
        broker.insert_middleware(stream_middleware(projections))
    port = settings.metrics_port_for(component)
    refuse_unsafe(settings, open_ops_surface(component, settings.metrics_host, port, settings.ops_token))
    monitors = Monitors(settings, settings.batch_gc_thresholds if projections else None)
    listener = OpsListener(ops_app(monitors, settings, stream_health(monitors, app)), settings.metrics_host, port)
    lag: list[asyncio.Task[None]] = []

    async def start() -> None:
        await monitors.start()
        lag.append(asyncio.create_task(poll_consumer_lag(app, projections), name="consumer-lag"))
        await listener.start()

    async def started() -> None:
        monitors.started()

    async def stop() -> None:
        await listener.stop()
        await cancel_and_wait(lag)
        await monitors.stop()

    app.on_startup(start)
    app.after_startup(started)
    app.after_shutdown(stop)
    return app
