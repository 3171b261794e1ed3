"""The event catalogue: an AsyncAPI 3.0 document of the domain topics and their events.

FastStream generates the document from a broker whose publishers declare what the write
side produces on each domain topic (payload: any envelope of that topic's event types,
every schema version). FastStream names one message per channel; analysts look events up
by type, so the channels are then given one message per (type, version), each with its
envelope schema and the Kafka headers every message carries.
"""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Union

from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from shared.events.schemas import AGGREGATE_TYPES, all_json_schemas, all_versions, envelope_model
from shared.topics import TOPIC_BY_AGGREGATE

DESCRIPTION = """Domain events of the merchant backend. Every Kafka message is one event in
the envelope below, JSON-encoded; the message key is `aggregate_id` (one aggregate's
events stay ordered in one partition) and the headers repeat `type`, `schema_version`
and `correlation_id`. Delivery is at-least-once: deduplicate on `event_id`, or guard on
`(aggregate_id, aggregate_version)`. A JSON Schema per type and version is published
under docs/events/ (`<Type>.v<N>.json`)."""

TOPIC_DESCRIPTIONS = {
    "product": "Catalogue and stock of products: creation, details, prices, stock, reservations.",
    "order": "Order lifecycle: placed, confirmed, paid, shipped, delivered, cancelled, refunded.",
    "merchant": "Merchant accounts: creation, renames, key rotations (never key material).",
    "report": "Report requests: a merchant asked for a sales report over a date range.",
}

HEADERS_SCHEMA = {
    "type": "object",
    "properties": {
        "type": {"type": "string", "description": "The event type, as in the body."},
        "schema_version": {"type": "string", "description": "The body's schema version, as text."},
        "correlation_id": {"type": "string", "description": "The request that caused it."},
    },
    "required": ["type", "schema_version", "correlation_id"],
}


def package_version() -> str:
    try:
        return version("merchant-backend")
    except PackageNotFoundError:
        return "0.0.0"


def events_by_topic() -> dict[str, list[tuple[str, int]]]:
    topics: dict[str, list[tuple[str, int]]] = {}
    for event_type, schema_version in all_versions():
        topic = TOPIC_BY_AGGREGATE[AGGREGATE_TYPES[event_type]]
        topics.setdefault(topic, []).append((event_type, schema_version))
    return topics


def catalogue_broker(bootstrap_servers: str = "127.0.0.1:9092") -> KafkaBroker:
    """A broker that only *declares* the domain publishers; it is never started."""
    broker = KafkaBroker(bootstrap_servers, description="Kafka (KAFKA_BOOTSTRAP_SERVERS)")
    for topic, events in events_by_topic().items():
        payload: Any = Union[tuple(envelope_model(t, v) for t, v in events)]  # noqa: UP007  (built at run time)
        aggregate = AGGREGATE_TYPES[events[0][0]]
        broker.publisher(topic, schema=payload, title=topic, description=TOPIC_DESCRIPTIONS[aggregate])
    return broker


def asyncapi_document(bootstrap_servers: str = "127.0.0.1:9092") -> dict[str, Any]:
    spec = AsyncAPI(
        catalogue_broker(bootstrap_servers),
        title="Merchant domain events",
        version=package_version(),
        description=DESCRIPTION,
        schema_version="3.0.0",
    )
    document = spec.to_specification().to_jsonable()
    return with_one_message_per_event(document)


def with_one_message_per_event(document: dict[str, Any]) -> dict[str, Any]:
    components = document["components"]
    components["messages"] = {}
    for topic, events in events_by_topic().items():
        channel_messages = {}
        for event_type, schema_version in events:
            name = f"{event_type}_v{schema_version}"
            model = envelope_model(event_type, schema_version)
            components["messages"][name] = {
                "name": event_type,
                "title": f"{event_type} v{schema_version}",
                "summary": (model.__doc__ or "").strip(),
                "contentType": "application/json",
                "correlationId": {"location": "$message.header#/correlation_id"},
                "headers": HEADERS_SCHEMA,
                "payload": {"$ref": f"#/components/schemas/{name}"},
                "bindings": {
                    "kafka": {"key": {"type": "string", "description": "aggregate_id"}, "bindingVersion": "0.5.0"}
                },
            }
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        document["channels"][topic]["messages"] = channel_messages
        document["operations"][topic]["messages"] = [
            {"$ref": f"#/channels/{topic}/messages/{name}"} for name in channel_messages
        ]
    components["schemas"] = {k: v for k, v in components["schemas"].items() if not k.endswith(":Payload")}
    # FastStream's ordering depends on what was imported before; keep the file stable.
    for mapping in (document, "channels", "operations"), (components, "messages", "schemas"):
        parent, *keys = mapping
        for key in keys:
            parent[key] = dict(sorted(parent[key].items()))
    return document


def published_files(docs_dir: Path) -> dict[Path, str]:
    """What ``merchant events docs`` writes under ``docs/``: path -> exact text."""
    files = {docs_dir / "asyncapi.json": dumps(asyncapi_document())}
    for name, schema in all_json_schemas().items():
        files[docs_dir / "events" / name] = dumps(schema)
    return files


def stale_files(docs_dir: Path) -> list[Path]:
    """Published files missing or different from what the code generates now."""
    return [path for path, text in published_files(docs_dir).items() if not path.exists() or path.read_text() != text]


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
