"""Settings, one class per process (pydantic-settings).

The server addresses follow the environment contract of INFRA.md and carry no prefix, so
the same variables serve every process, the local servers and docker-compose alike.
Everything else is prefixed per process (``COMMAND_API_PORT``, ``QUERY_API_PORT`` ...).
Defaults run locally with no configuration.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServerSettings(BaseSettings):
    """Where the servers are: Kafka, MongoDB (or a wire-compatible server), Redis, SMTP."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", validation_alias="KAFKA_BOOTSTRAP_SERVERS")
    mongodb_url: str = Field("mongodb://127.0.0.1:27017", validation_alias="MONGODB_URL")
    mongodb_database: str = Field("merchant", validation_alias="MONGODB_DATABASE")
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias="REDIS_URL")
    smtp_url: str = Field("smtp://127.0.0.1:1025", validation_alias="SMTP_URL")
    # Prepended to every topic name: lets several environments (or test runs) share a
    # cluster without seeing each other's events. Empty in production and development.
    kafka_topic_prefix: str = Field("", validation_alias="KAFKA_TOPIC_PREFIX")

    def topic(self, name: str) -> str:
        return f"{self.kafka_topic_prefix}{name}"


class CommandApiSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="COMMAND_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8001
    # Where clients read what they wrote; used for the Location header of 202 responses.
    query_api_url: str = Field("http://127.0.0.1:8002", validation_alias="QUERY_API_URL")
    max_body_bytes: int = 64 * 1024
    # The relay re-publishes commits still unpublished after this many seconds.
    relay_interval_seconds: float = 1.0
    relay_grace_seconds: float = 2.0


class QueryApiSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="QUERY_API_", extra="ignore", populate_by_name=True)

    host: str = "127.0.0.1"
    port: int = 8002


class ProjectorSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="PROJECTOR_", extra="ignore", populate_by_name=True)

    group_id: str = "projectors"
    # A batch is at most this many events, or what arrived within the timeout.
    batch_size: int = 1000
    batch_timeout_ms: int = 50
    # How soon a crashed projector's partitions go to the others (the broker's minimum
    # is 6 s by default); lower means faster failover, higher tolerates longer pauses.
    session_timeout_ms: int = 10_000


class WorkerSettings(ServerSettings):
    model_config = SettingsConfigDict(env_prefix="WORKER_", extra="ignore", populate_by_name=True)

    group_prefix: str = "workers"
