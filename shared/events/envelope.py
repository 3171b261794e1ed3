"""The event envelope: how every domain event travels (ARCHITECTURE.md).

One Kafka message per event; key = ``aggregate_id`` (so each aggregate's events stay
ordered in one partition); headers carry ``type``, ``schema_version`` and
``correlation_id`` so consumers can route and trace without parsing the body.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class EventEnvelope(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    schema_version: int = 1
    aggregate_type: str
    aggregate_id: str
    aggregate_version: int = Field(ge=1)
    merchant_id: str
    occurred_at: datetime = Field(default_factory=utc_now)
    correlation_id: str
    causation_id: str | None = None
    data: dict[str, Any]

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"))

    @classmethod
    def from_json(cls, raw: bytes | str) -> EventEnvelope:
        return cls.model_validate_json(raw)

    def kafka_key(self) -> bytes:
        return self.aggregate_id.encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        return [
            ("type", self.type.encode()),
            ("schema_version", str(self.schema_version).encode()),
            ("correlation_id", self.correlation_id.encode()),
        ]
