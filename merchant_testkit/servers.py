"""Which real servers the integration and e2e tests talk to.

In order: (1) the servers named by the environment variables (``make test`` starts the
local ones and sets them); (2) where a Docker engine answers, containers started with
testcontainers; (3) the local servers of ``merchant infra`` (installed and started if
needed, stopped afterwards if this run started them; ``MERCHANT_TESTKIT_LOCAL_SERVERS=0``
turns this off). If none is available the tests *fail* under ``CI=true`` — they never
pass by skipping — and skip with a clear message on a developer's machine.

The containers (``containers``) use testcontainers' modules with the images they are
built for: its Kafka module configures Confluent's image (it formats KRaft storage with
Confluent's scripts, and ``with_kraft`` refuses any image tag below 7.0.0 — so
``apache/kafka:4.0.1`` raises ``ValueError``), hence ``KAFKA_IMAGE``, in KRaft mode: the
configuration testcontainers' own suite starts. The module paths
(``testcontainers.community.*``) exist from testcontainers 4.15 on (pinned in
pyproject.toml). Building them needs no Docker engine (``docker_client_kw`` can name
the API version, so nothing is asked); starting them does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest

ENV_VARS = ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "REDIS_URL", "SMTP_URL")
# Apache Kafka 3.6 in Confluent's packaging (docker-compose and the local servers run
# Apache's own 4.0.1 image or jars; the client API we use is the same).
KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
MONGO_IMAGE = "mongo:7"
REDIS_IMAGE = "redis:7"
MAILPIT_IMAGE = "axllent/mailpit:v1.22.3"


@dataclass
class Servers:
    kafka_bootstrap_servers: str
    mongodb_url: str
    redis_url: str
    smtp_url: str
    mailbox_api: str  # Mailpit-compatible HTTP API of the SMTP catcher
    _containers: list = field(default_factory=list)
    _started_locally: list[str] = field(default_factory=list)

    def env(self, namespace: str) -> dict[str, str]:
        """Settings for one test session: its own database and its own topics."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "KAFKA_TOPIC_PREFIX": f"{namespace}.",
            "MONGODB_URL": self.mongodb_url,
            "MONGODB_DATABASE": namespace,
            "REDIS_URL": self.redis_url,
            "SMTP_URL": self.smtp_url,
        }

    def stop(self) -> None:
        for container in self._containers:
            container.stop()
        if self._started_locally:
            from infra import manager

            manager.down(self._started_locally)


def docker_engine_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=2).ping()
        return True
    except Exception:
        return False


def from_environment() -> Servers | None:
    if not all(os.environ.get(v) for v in ENV_VARS):
        return None
    return Servers(
        os.environ["KAFKA_BOOTSTRAP_SERVERS"],
        os.environ["MONGODB_URL"],
        os.environ["REDIS_URL"],
        os.environ["SMTP_URL"],
        os.environ.get("MAILBOX_API_URL", "http://127.0.0.1:8025"),
    )


@dataclass(frozen=True)
class Containers:
    """The four servers as testcontainers containers, configured, not started."""

    kafka: Any
    mongo: Any
    redis: Any
    mailpit: Any

    def all(self) -> list[Any]:
        return [self.kafka, self.mongo, self.redis, self.mailpit]


def containers(docker_client_kw: dict[str, Any] | None = None) -> Containers:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.community.redis import RedisContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import HttpWaitStrategy

    client = {"docker_client_kw": docker_client_kw} if docker_client_kw else {}
    mailpit = DockerContainer(MAILPIT_IMAGE, **client).with_exposed_ports(1025, 8025)
    return Containers(
        kafka=KafkaContainer(KAFKA_IMAGE, **client).with_kraft(),
        mongo=MongoDbContainer(MONGO_IMAGE, **client),
        redis=RedisContainer(REDIS_IMAGE, **client),
        mailpit=mailpit.waiting_for(HttpWaitStrategy(8025, "/api/v1/messages")),
    )


def from_containers() -> Servers:
    started: list[Any] = []
    try:
        for container in (parts := containers()).all():
            started.append(container.start())
    except BaseException:
        for container in started:  # a container that did not start must not leave others running
            container.stop()
        raise
    host = parts.mailpit.get_container_host_ip()
    r_host, r_port = parts.redis.get_container_host_ip(), parts.redis.get_exposed_port(6379)
    return Servers(
        parts.kafka.get_bootstrap_server(),
        parts.mongo.get_connection_url(),
        f"redis://{r_host}:{r_port}/0",
        f"smtp://{host}:{parts.mailpit.get_exposed_port(1025)}",
        f"http://{host}:{parts.mailpit.get_exposed_port(8025)}",
        started,
    )


def from_local_servers() -> Servers:
    """``merchant infra up``; only the servers this call started are stopped later."""
    from infra import manager

    started = manager.to_be_started(manager.status())  # a running but slow server is not ours to stop
    manager.up()
    env = manager.environment()
    return Servers(
        env["KAFKA_BOOTSTRAP_SERVERS"],
        env["MONGODB_URL"],
        env["REDIS_URL"],
        env["SMTP_URL"],
        env["MAILBOX_API_URL"],
        _started_locally=started,
    )


def resolve() -> Servers:
    servers = from_environment()
    if servers is not None:
        return servers
    if docker_engine_answers():
        return from_containers()
    problem = ""
    if os.environ.get("MERCHANT_TESTKIT_LOCAL_SERVERS", "1") != "0":
        try:
            return from_local_servers()
        except Exception as exc:  # noqa: BLE001 — reported below, with the other options
            problem = f" Starting local servers failed: {exc}"
    message = (
        f"No servers: set {', '.join(ENV_VARS)} (e.g. run `merchant infra up`, or "
        f"`make test` which does it) or provide a Docker engine for testcontainers.{problem}"
    )
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
