"""``make run`` for a person: text logs, quiet libraries, the banner after everything
settled, and a clean install (no setuptools deprecation)."""

from __future__ import annotations

import logging
import logging.config
import socket
import tomllib
from pathlib import Path

import httpx
import pytest

from shared.observability.logs import TextFormatter, correlated, logging_config

from merchant_cli import dev

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_logging():
    saved = {name: logging.getLogger(name).level for name in ("", "workers", "uvicorn.error", "broker.workers")}
    handlers = logging.getLogger().handlers[:]
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    logging.getLogger().handlers[:] = handlers


def test_merchant_dev_asks_for_text_logs_and_quiet_libraries_unless_told_otherwise():
    assert dev.dev_environment({})["MERCHANT_LOG_FORMAT"] == "text"
    assert dev.dev_environment({})["MERCHANT_LOG_LIBRARY_LEVEL"] == "WARNING"
    assert dev.dev_environment({"MERCHANT_LOG_FORMAT": "json"})["MERCHANT_LOG_FORMAT"] == "json"


def test_our_loggers_at_info_the_libraries_at_warning(restore_logging):
    logging.config.dictConfig(logging_config("text", "INFO", "WARNING"))
    assert logging.getLogger("workers.application.policy").isEnabledFor(logging.INFO)
    assert logging.getLogger("merchant.access").isEnabledFor(logging.INFO)
    assert not logging.getLogger("uvicorn.error").isEnabledFor(logging.INFO)  # "Started server process"
    assert not logging.getLogger("broker.workers").isEnabledFor(logging.INFO)  # "assigned to partitions"
    assert logging.getLogger("broker.workers").isEnabledFor(logging.WARNING)
    coordinator = logging.getLogger("aiokafka.consumer.group_coordinator")
    assert not coordinator.isEnabledFor(logging.WARNING)  # rebalance notices
    assert coordinator.isEnabledFor(logging.ERROR)


def test_production_keeps_json_and_one_level_for_everything(restore_logging):
    config = logging_config()  # merchant serve's defaults: JSON, INFO
    assert config["formatters"]["default"]["()"].endswith("JsonFormatter")
    logging.config.dictConfig(config)
    assert logging.getLogger("uvicorn.error").isEnabledFor(logging.INFO)
    assert logging.getLogger("broker.workers").isEnabledFor(logging.INFO)


def test_a_text_line_is_short_and_carries_the_correlation_id():
    record = logging.makeLogRecord({"name": "query_api.app", "levelname": "INFO", "msg": "served", "created": 0})
    assert TextFormatter().format(record).endswith(" INFO  query_api.app: served")
    with correlated("c-1"):
        assert TextFormatter().format(record).endswith("served [c-1]")


def test_the_banner_waits_until_every_consumer_has_its_partitions():
    ready = {"status": "ready", "checks": {}}
    assert dev.settled(httpx.Response(200, json=ready))  # an HTTP service
    assert not dev.settled(httpx.Response(503, json=ready))
    assert not dev.settled(httpx.Response(200, json={**ready, "consumers": {"subscribed": 20, "assigned": 19}}))
    assert dev.settled(httpx.Response(200, json={**ready, "consumers": {"subscribed": 20, "assigned": 20}}))


def test_a_taken_metrics_port_is_replaced_by_a_free_one():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert dev.port_or_free(port) != port


def test_the_licence_is_an_spdx_string_so_pip_prints_no_deprecation():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "Apache-2.0"  # not the deprecated {text = ...} table
    assert "setuptools>=77" in project["build-system"]["requires"]  # the first to accept it
