"""Structured logs: one JSON object per line, carrying the current correlation id.

The correlation id lives in a context variable: the HTTP middleware sets it from
``X-Correlation-ID`` (or creates one), the stream middleware from the Kafka header
``correlation_id``; every log line written while handling that request or message carries
it, so ``grep <id>`` over all processes' logs follows one command end to end.

Two formats: JSON (``merchant serve``'s default: what production ships to a log store)
and text for a person (``merchant dev``'s default: ``12:03:04.512 INFO  query_api...``).
Our own loggers (``OUR_LOGGERS``) log at ``level``; every other one — uvicorn, aiokafka,
FastStream's broker and app (given loggers of their own: ``library_logger``) — at
``library_level``, which ``merchant dev`` sets to WARNING so their start-up chatter (one
line per partition assignment) does not bury ours.

Plain ``logging.Formatter`` subclasses (no dependency): ~30 lines do what we need.
"""

from __future__ import annotations

import contextvars
import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson

correlation_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)

# LogRecord attributes that are not "extra" fields.
_STANDARD = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


@contextmanager
def correlated(correlation_id: str | None) -> Iterator[None]:
    token = correlation_id_var.set(correlation_id)
    try:
        yield
    finally:
        correlation_id_var.reset(token)


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "correlation_id"?, "pid", ...extra}``."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": record.process,
        }
        corr = getattr(record, "correlation_id", None) or correlation_id_var.get()
        if corr:
            line["correlation_id"] = corr
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """``12:03:04.512 INFO  projectors.entrypoints.app: message [correlation id]`` — the
    date, the pid and the extra fields are left to the JSON form."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s", datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        corr = getattr(record, "correlation_id", None) or correlation_id_var.get()
        return f"{line} [{corr}]" if corr else line


# The loggers of our own code; every other logger is a library's.
OUR_LOGGERS = ("merchant", "merchant_cli", "shared", "command_api", "query_api", "projectors", "workers", "infra")
# With a library level set (``merchant dev``): aiokafka's consumer-group membership notices
# ("Heartbeat failed for group ... because it is rebalancing", "will rejoin") are WARNINGs
# nobody at a terminal can act on — any process joining or leaving a group of the same
# name causes them — so they are shown from ERROR up.
MEMBERSHIP_NOTICES = "aiokafka.consumer.group_coordinator"


def library_logger(component: str) -> logging.Logger:
    """The logger to give FastStream's broker and app: their per-partition and per-message
    lines are the library's, so they follow ``library_level``, not ours. (Not under
    ``faststream``: FastStream gives that logger a handler and a level of its own.)"""
    return logging.getLogger(f"broker.{component}")


def logging_config(fmt: str = "json", level: str = "INFO", library_level: str | None = None) -> dict[str, Any]:
    """A ``dictConfig``: our loggers at ``level``, the root (every library) at
    ``library_level`` (default: ``level``) — never below ``level``.

    Given to uvicorn as ``log_config`` so that every ``--workers`` child process
    configures itself the same way (children do not inherit the parent's handlers).
    """
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    ours = level.upper()
    libraries = max(logging.getLevelName(ours), logging.getLevelName((library_level or ours).upper()))
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": libraries},
        "loggers": {
            **{name: {"handlers": [], "propagate": True, "level": ours} for name in OUR_LOGGERS},
            **{
                name: {"handlers": [], "propagate": True, "level": libraries}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            **({MEMBERSHIP_NOTICES: {"handlers": [], "propagate": True, "level": "ERROR"}} if library_level else {}),
        },
    }


def configure_logging(
    fmt: str | None = None, level: str | None = None, library_level: str | None = None
) -> dict[str, Any]:
    import logging.config

    config = logging_config(
        fmt or os.environ.get("MERCHANT_LOG_FORMAT", "json"),
        level or os.environ.get("MERCHANT_LOG_LEVEL", "INFO"),
        library_level or os.environ.get("MERCHANT_LOG_LIBRARY_LEVEL") or None,
    )
    logging.config.dictConfig(config)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    return config
