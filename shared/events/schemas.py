"""Every version of every event body ever emitted, and the JSON Schemas published for them.

A body model is never edited once events of its version exist: a change that is not
purely additive-with-default becomes a new version, its predecessor is frozen here under
a ``V<n>`` name, and an upcaster (``shared/events/upcasting.py``) turns the old body into
the new one. The write side always emits ``current_version(type)``.

History so far:
- ``ProductCreated`` v2 added ``tags`` (free-form labels for storefront filtering);
  v1 events are read as v2 with ``tags: []``.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from shared.events import merchants, orders, products, reports
from shared.events.envelope import EventEnvelope

# Every aggregate's event module: the one list of event types (EVENT_TYPES derives from it).
MODULES = (products, orders, merchants, reports)
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


class UnknownEventType(ValueError):
    """An envelope whose ``type`` no version of this code knows."""


class UnsupportedSchemaVersion(ValueError):
    """An envelope from a newer producer (or a corrupt one): dead-letter it, do not guess."""

    def __init__(self, event_type: str, version: int, newest: int) -> None:
        super().__init__(f"{event_type} schema_version {version} is not supported (newest known: {newest})")
        self.event_type, self.version, self.newest = event_type, version, newest


class ProductCreatedV1(products.Body):
    """``ProductCreated`` as emitted before tags existed (frozen: never edit)."""

    sku: str
    name: str
    description: str = ""
    category: str
    price: products.Money
    stock: int = Field(ge=0)
    attributes: dict[str, str] = Field(default_factory=dict)
    status: products.ProductStatus = "published"


# type -> {version: body model}; the highest version is the current one.
HISTORY: dict[str, dict[int, type[BaseModel]]] = {
    model.__name__: {1: model} for module in MODULES for model in module.EVENTS
}
HISTORY["ProductCreated"] = {1: ProductCreatedV1, 2: products.ProductCreated}

AGGREGATE_TYPES: dict[str, str] = {
    model.__name__: module.AGGREGATE_TYPE for module in MODULES for model in module.EVENTS
}


def versions_of(event_type: str) -> dict[int, type[BaseModel]]:
    try:
        return HISTORY[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def current_version(event_type: str) -> int:
    """The version the write side emits for this type."""
    return max(versions_of(event_type))


def all_versions() -> list[tuple[str, int]]:
    """Every (type, version) pair, in a stable order (aggregate, then declaration)."""
    return [(t, v) for t, history in HISTORY.items() for v in sorted(history)]


def _literal(value: str | int) -> Any:
    """``Literal[value]`` for a value known only at run time (a type checker reads
    ``Literal[...]`` statically, so the subscription is spelled as the call it is)."""
    return Literal.__getitem__(value)


@cache
def envelope_model(event_type: str, version: int) -> type[EventEnvelope]:
    """The full envelope of one (type, version), typed down to its body — for schemas."""
    body = versions_of(event_type)[version]
    return create_model(
        f"{event_type}_v{version}",
        __base__=EventEnvelope,
        __doc__=(body.__doc__ or f"{event_type}, schema version {version}.").strip(),
        type=(_literal(event_type), ...),
        schema_version=(_literal(version), ...),
        aggregate_type=(_literal(AGGREGATE_TYPES[event_type]), ...),
        data=(body, ...),
    )


def schema_file_name(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.json"


def json_schema(event_type: str, version: int) -> dict[str, Any]:
    """The JSON Schema (2020-12) one Kafka message of this (type, version) satisfies."""
    schema = envelope_model(event_type, version).model_json_schema()
    schema["required"] = list(schema["properties"])  # producers always write every field
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": schema_file_name(event_type, version),
        **schema,
        "title": f"{event_type} v{version}",
    }


def all_json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema, for every (type, version)."""
    return {schema_file_name(t, v): json_schema(t, v) for t, v in all_versions()}
