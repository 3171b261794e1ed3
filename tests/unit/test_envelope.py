from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from shared.events import EventEnvelope, UnknownEventType, decode_data
from shared.events.products import ProductCreated


def envelope(**overrides) -> EventEnvelope:
    fields = dict(
        type="ProductCreated",
        aggregate_type="product",
        aggregate_id="p1",
        aggregate_version=1,
        merchant_id="m1",
        correlation_id="c1",
        data={"sku": "A", "name": "N", "category": "c", "price": {"amount": 100, "currency": "EUR"}, "stock": 1},
    )
    fields.update(overrides)
    return EventEnvelope(**fields)


def test_json_round_trip_is_lossless():
    e = envelope()
    assert EventEnvelope.from_json(e.to_json()) == e


def test_envelope_has_every_contract_field():
    payload = envelope().model_dump(mode="json")
    assert set(payload) == {
        "event_id",
        "type",
        "schema_version",
        "aggregate_type",
        "aggregate_id",
        "aggregate_version",
        "merchant_id",
        "occurred_at",
        "correlation_id",
        "causation_id",
        "data",
    }
    uuid.UUID(payload["event_id"])
    assert payload["occurred_at"].endswith("Z") or payload["occurred_at"].endswith("+00:00")


def test_kafka_key_and_headers():
    e = envelope()
    assert e.kafka_key() == b"p1"
    assert dict(e.kafka_headers()) == {"type": b"ProductCreated", "schema_version": b"1", "correlation_id": b"c1"}


def test_data_is_decoded_by_type():
    assert isinstance(decode_data(envelope()), ProductCreated)
    with pytest.raises(UnknownEventType):
        decode_data(envelope(type="SomethingElse"))


def test_versions_start_at_one():
    with pytest.raises(ValidationError):
        envelope(aggregate_version=0)
