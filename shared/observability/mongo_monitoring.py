"""pymongo's monitoring hooks → Prometheus: pool size and use, checkout wait, command latency.

Passed to every client by ``shared.mongo.open_mongo`` (``event_listeners=``). Listeners run
on the driver's hot path, so each does one metric update and nothing else.
"""

from __future__ import annotations

from typing import Protocol

from pymongo import monitoring

from shared.observability import metrics


class _PoolEvent(Protocol):
    @property
    def address(self) -> tuple[str, int | None]: ...


def _address(event: _PoolEvent) -> str:
    host, port = event.address
    return f"{host}:{port}"


class CommandLatency(monitoring.CommandListener):
    def started(self, event: monitoring.CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        metrics.mongodb_command_duration.labels(event.command_name, "ok").observe(event.duration_micros / 1e6)

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        metrics.mongodb_command_duration.labels(event.command_name, "error").observe(event.duration_micros / 1e6)


class PoolUsage(monitoring.ConnectionPoolListener):
    def pool_created(self, event: monitoring.PoolCreatedEvent) -> None:
        metrics.mongodb_pool_size.labels(_address(event))
        metrics.mongodb_pool_in_use.labels(_address(event))

    def pool_ready(self, event: monitoring.PoolReadyEvent) -> None:
        pass

    def pool_cleared(self, event: monitoring.PoolClearedEvent) -> None:
        pass

    def pool_closed(self, event: monitoring.PoolClosedEvent) -> None:
        pass

    def connection_created(self, event: monitoring.ConnectionCreatedEvent) -> None:
        metrics.mongodb_pool_size.labels(_address(event)).inc()

    def connection_ready(self, event: monitoring.ConnectionReadyEvent) -> None:
        pass

    def connection_closed(self, event: monitoring.ConnectionClosedEvent) -> None:
        metrics.mongodb_pool_size.labels(_address(event)).dec()

    def connection_check_out_started(self, event: monitoring.ConnectionCheckOutStartedEvent) -> None:
        pass

    def connection_check_out_failed(self, event: monitoring.ConnectionCheckOutFailedEvent) -> None:
        pass

    def connection_checked_out(self, event: monitoring.ConnectionCheckedOutEvent) -> None:
        metrics.mongodb_pool_in_use.labels(_address(event)).inc()
        duration = getattr(event, "duration", None)  # pymongo >= 4.7
        if duration is not None:
            metrics.mongodb_pool_wait.observe(duration)

    def connection_checked_in(self, event: monitoring.ConnectionCheckedInEvent) -> None:
        metrics.mongodb_pool_in_use.labels(_address(event)).dec()


def listeners() -> list[monitoring.CommandListener | monitoring.ConnectionPoolListener]:
    return [CommandLatency(), PoolUsage()]
