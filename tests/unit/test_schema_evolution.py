"""Schema versions: old events read as new ones, future ones refused (as malformed)."""

from __future__ import annotations

from datetime import UTC, datetime

import jsonschema
import pytest

from shared.events import EventEnvelope, UnsupportedSchemaVersion, current_version, decode_data, upcast
from shared.events.products import ProductCreated
from shared.events.schemas import HISTORY, UnknownEventType, json_schema

from projectors.domain import catalog_products, merchant_products

OCCURRED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
V1_BODY = {"sku": "A-1", "name": "Boots", "category": "shoes", "price": {"amount": 8999, "currency": "EUR"}, "stock": 3}


def product_created(version: int, data: dict) -> EventEnvelope:
    return EventEnvelope(
        type="ProductCreated",
        schema_version=version,
        aggregate_type="product",
        aggregate_id="p1",
        aggregate_version=1,
        merchant_id="m1",
        correlation_id="c1",
        data=data,
        occurred_at=OCCURRED_AT,
    )


def test_write_side_emits_the_newest_version():
    assert current_version("ProductCreated") == 2
    assert current_version("OrderPlaced") == 1
    assert HISTORY["ProductCreated"][2] is ProductCreated


def test_v1_is_read_as_v2_with_no_tags():
    upcast_event = upcast(product_created(1, V1_BODY))
    assert upcast_event.schema_version == 2
    assert upcast_event.data == {**V1_BODY, "tags": []}
    assert decode_data(product_created(1, V1_BODY)) == ProductCreated(**V1_BODY, tags=[])


def test_current_events_pass_through_unchanged():
    event = product_created(2, {**V1_BODY, "tags": ["winter"]})
    assert upcast(event) is event
    assert decode_data(event).tags == ["winter"]


@pytest.mark.parametrize("version", [3, 99, 0, -1])
def test_unknown_versions_are_refused_as_malformed(version):
    with pytest.raises(UnsupportedSchemaVersion) as raised:
        decode_data(product_created(version, {**V1_BODY, "tags": []}))
    assert isinstance(raised.value, ValueError)  # consumers dead-letter ValueErrors
    assert raised.value.newest == 2


def test_unknown_types_are_refused_as_malformed():
    event = product_created(1, V1_BODY).model_copy(update={"type": "ProductTeleported"})
    with pytest.raises(UnknownEventType):
        upcast(event)


def test_projection_of_v1_and_v2_is_the_same():
    def project(event):
        return catalog_products.view(merchant_products.evolve(None, event, decode_data(event)))

    v1 = project(product_created(1, V1_BODY))
    v2 = project(product_created(2, {**V1_BODY, "tags": []}))
    assert v1 == v2 and v1["tags"] == []


def test_each_version_schema_accepts_its_own_bodies_only():
    v1 = product_created(1, V1_BODY).model_dump(mode="json")
    v2 = product_created(2, {**V1_BODY, "tags": ["x"]}).model_dump(mode="json")
    jsonschema.validate(v1, json_schema("ProductCreated", 1))
    jsonschema.validate(v2, json_schema("ProductCreated", 2))
    with pytest.raises(jsonschema.ValidationError):  # v1 never had tags
        jsonschema.validate({**v1, "data": v2["data"]}, json_schema("ProductCreated", 1))
    with pytest.raises(jsonschema.ValidationError):  # the version is part of the contract
        jsonschema.validate(v1, json_schema("ProductCreated", 2))
