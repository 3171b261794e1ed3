"""Structured logs: one JSON object per line, carrying the current correlation id.

The correlation id lives in a context variable: the HTTP middleware sets it from
``X-Correlation-ID`` (or creates one), the stream middleware from the Kafka header
``correlation_id``; every log line written while handling that request or message carries
it, so ``grep <id>`` over all processes' logs follows one command end to end.

Plain ``logging.Formatter`` subclass (no dependency): ~30 lines do what we need.
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
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(correlation_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not getattr(record, "correlation_id", None):
            record.correlation_id = correlation_id_var.get() or "-"
        return super().format(record)


def logging_config(fmt: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` for the root logger and uvicorn's loggers.

    Given to uvicorn as ``log_config`` so that every ``--workers`` child process
    configures itself the same way (children do not inherit the parent's handlers).
    """
    formatter = JsonFormatter if fmt == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"default": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stderr": {"class": "logging.StreamHandler", "formatter": "default", "stream": "ext://sys.stderr"}
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level.upper()}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }


def configure_logging(fmt: str | None = None, level: str | None = None) -> dict[str, Any]:
    import logging.config

    config = logging_config(
        fmt or os.environ.get("MERCHANT_LOG_FORMAT", "json"), level or os.environ.get("MERCHANT_LOG_LEVEL", "INFO")
    )
    logging.config.dictConfig(config)
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    return config
