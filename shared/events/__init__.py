"""Event contracts: the envelope and one module per aggregate's event bodies.

``EVENT_TYPES`` maps an event ``type`` to its aggregate type and the model of its
``data`` (the current version), so any consumer can validate what it reads. Older
versions and their upcasters live in ``schemas`` and ``upcasting``; ``decode_data`` is
the one decode path and reads every version as the current one.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

from shared.events.envelope import EventEnvelope, utc_now
from shared.events.schemas import MODULES, UnknownEventType, UnsupportedSchemaVersion, current_version
from shared.events.upcasting import upcast

EVENT_TYPES: dict[str, tuple[str, type[BaseModel]]] = {
    model.__name__: (module.AGGREGATE_TYPE, model) for module in MODULES for model in module.EVENTS
}


def decode_data(envelope: EventEnvelope) -> BaseModel:
    """Validate an envelope's ``data`` as the current version of its declared type.

    Older versions are upcast first; an unknown type or a future version raises a
    ``ValueError`` subclass (``UnknownEventType``, ``UnsupportedSchemaVersion``).
    """
    current = upcast(envelope)
    _, model = EVENT_TYPES[current.type]
    return model.model_validate(current.data)


BodyT = TypeVar("BodyT", bound=BaseModel)


def decode_data_as(envelope: EventEnvelope, model: type[BodyT]) -> BodyT:
    """``decode_data`` where the caller knows the type: a ``ValueError`` if it is another."""
    body = decode_data(envelope)
    if not isinstance(body, model):
        raise ValueError(f"a {envelope.type} event is not {model.__name__}")
    return body


__all__ = [
    "EVENT_TYPES",
    "EventEnvelope",
    "UnknownEventType",
    "UnsupportedSchemaVersion",
    "current_version",
    "decode_data",
    "decode_data_as",
    "upcast",
    "utc_now",
]
