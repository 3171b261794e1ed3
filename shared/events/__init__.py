"""Event contracts: the envelope and one module per aggregate's event bodies.

``EVENT_TYPES`` maps an event ``type`` to its aggregate type and the model of its
``data``, so any consumer can validate what it reads.
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.events import merchants, orders, products, reports
from shared.events.envelope import EventEnvelope, utc_now

EVENT_TYPES: dict[str, tuple[str, type[BaseModel]]] = {
    model.__name__: (module.AGGREGATE_TYPE, model)
    for module in (products, orders, merchants, reports)
    for model in module.EVENTS
}


class UnknownEventType(ValueError):
    pass


def decode_data(envelope: EventEnvelope) -> BaseModel:
    """Validate an envelope's ``data`` against its declared type."""
    try:
        _, model = EVENT_TYPES[envelope.type]
    except KeyError:
        raise UnknownEventType(envelope.type) from None
    return model.model_validate(envelope.data)


__all__ = ["EVENT_TYPES", "EventEnvelope", "UnknownEventType", "decode_data", "utc_now"]
