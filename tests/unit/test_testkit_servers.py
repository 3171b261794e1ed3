"""The test kit's server resolution order: env vars → Docker → local servers → fail in CI."""

from __future__ import annotations

import pytest

from merchant_testkit import servers

ENV = {
    "KAFKA_BOOTSTRAP_SERVERS": "k:1",
    "MONGODB_URL": "mongodb://m:2",
    "REDIS_URL": "redis://r:3/0",
    "SMTP_URL": "smtp://s:4",
}


@pytest.fixture
def no_env(monkeypatch):
    for name in (*ENV, "MERCHANT_TESTKIT_LOCAL_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(servers, "docker_engine_answers", lambda: False)
    return monkeypatch


def test_environment_variables_win(no_env):
    for name, value in ENV.items():
        no_env.setenv(name, value)
    no_env.setattr(servers, "docker_engine_answers", lambda: pytest.fail("Docker must not be asked"))
    found = servers.resolve()
    assert found.env("ns")["MONGODB_URL"] == "mongodb://m:2"
    assert found.env("ns")["KAFKA_TOPIC_PREFIX"] == "ns."


def test_local_servers_when_no_env_and_no_docker(no_env):
    local = servers.Servers("k", "m", "r", "s", "http://mail")
    no_env.setattr(servers, "from_local_servers", lambda: local)
    assert servers.resolve() is local


def test_nothing_available_fails_under_ci(no_env):
    no_env.setenv("MERCHANT_TESTKIT_LOCAL_SERVERS", "0")
    no_env.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="No servers"):
        servers.resolve()


def test_a_failed_local_start_is_reported(no_env):
    def broken():
        raise RuntimeError("java not found")

    no_env.setattr(servers, "from_local_servers", broken)
    no_env.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="java not found"):
        servers.resolve()


# -- testcontainers: the real classes, configured; no Docker engine is asked (the API
# version is given, so docker-py does not query the daemon for it).
NO_DAEMON = {"version": "1.44"}


def test_the_containers_are_testcontainers_modules_with_the_images_they_fit():
    parts = servers.containers(docker_client_kw=NO_DAEMON)
    assert parts.kafka.image == servers.KAFKA_IMAGE == "confluentinc/cp-kafka:7.6.0"
    assert parts.kafka.kraft_enabled
    parts.kafka.configure()  # what start() does first: KRaft, no ZooKeeper
    assert parts.kafka.env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert "KAFKA_ZOOKEEPER_CONNECT" not in parts.kafka.env
    assert "kafka-storage format" in parts.kafka.boot_command
    assert (parts.mongo.image, parts.mongo.port) == ("mongo:7", 27017)
    assert (parts.redis.image, parts.redis.port) == ("redis:7", 6379)
    assert parts.mailpit.image.startswith("axllent/mailpit:v")  # pinned, not latest
    assert set(parts.mailpit.ports) == {"1025", "8025"}
    assert parts.mailpit._wait_strategy is not None  # waits for its HTTP API


def test_the_kafka_module_refuses_kraft_for_an_image_it_was_not_built_for():
    """Why the test kit does not run ``apache/kafka:4.0.1`` through this module."""
    from testcontainers.community.kafka import KafkaContainer

    with pytest.raises(ValueError, match="Kraft"):
        KafkaContainer("apache/kafka:4.0.1", docker_client_kw=NO_DAEMON).with_kraft()


def test_the_pinned_testcontainers_has_the_module_paths_the_test_kit_imports():
    from importlib.metadata import requires, version

    from packaging.requirements import Requirement
    from packaging.version import Version

    [pin] = [Requirement(r) for r in requires("merchant-backend") if r.startswith("testcontainers")]
    assert not pin.specifier.contains("4.14.2")  # no testcontainers.community before 4.15
    assert pin.specifier.contains(version("testcontainers"))
    assert Version(version("testcontainers")) >= Version("4.15")
    import testcontainers.community.kafka  # noqa: F401
    import testcontainers.community.mongodb  # noqa: F401
    import testcontainers.community.redis  # noqa: F401


def test_a_running_but_slow_server_is_not_stopped_by_whoever_only_waited_for_it():
    """``merchant dev``, ``make test`` and the test kit stop only what ``up`` started: a
    shared server that answered its health check slowly (unhealthy) was waited for, not
    started, and must outlive them."""
    from pathlib import Path

    from infra.manager import ServerStatus, to_be_started

    def status(name: str, state: str, healthy: bool) -> ServerStatus:
        return ServerStatus(name, state, healthy, "", "127.0.0.1:1", None, Path("/dev/null"))

    before = [
        status("kafka", "running", True),
        status("smtp", "running", False),  # slow mail API: unhealthy, still someone's server
        status("redis", "external", False),
        status("ferretdb", "stopped", False),
    ]
    assert to_be_started(before) == ["ferretdb"]


def test_local_servers_remember_only_what_they_started(no_env):
    from pathlib import Path

    from infra import manager
    from infra.manager import ServerStatus

    slow = ServerStatus("smtp", "running", False, "slow", "127.0.0.1:1025", 1, Path("/dev/null"))
    gone = ServerStatus("redis", "stopped", False, "", "127.0.0.1:6379", None, Path("/dev/null"))
    no_env.setattr(manager, "status", lambda names=None: [slow, gone])
    no_env.setattr(manager, "up", lambda *a, **k: [])
    no_env.setattr(manager, "environment", lambda: {k: "x" for k in (*ENV, "MAILBOX_API_URL")})
    assert servers.from_local_servers()._started_locally == ["redis"]
