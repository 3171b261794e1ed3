"""Reading old events as new ones: the single place where schema versions are reconciled.

Every consumer decodes through ``shared.events.decode_data`` (or calls ``upcast`` first),
so projectors, rebuilds and exports all see the current version of every event, whatever
version was stored or published. An upcaster is a pure function ``old body -> next body``
registered under the version it upgrades *from*; they chain (v1 -> v2 -> v3 ...).

An envelope from the future (a version newer than this code knows) raises
``UnsupportedSchemaVersion`` — a ``ValueError``, which consumers already treat as a
malformed message (dead letter), so an old consumer never crashes or silently
misreads a newer producer's events.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.events.envelope import EventEnvelope
from shared.events.schemas import UnsupportedSchemaVersion, current_version

Body = dict[str, Any]


def product_created_v1_to_v2(data: Body) -> Body:
    """v2 added ``tags``; products created before had none."""
    return {**data, "tags": []}


UPCASTERS: dict[tuple[str, int], Callable[[Body], Body]] = {
    ("ProductCreated", 1): product_created_v1_to_v2,
}


def upcast(envelope: EventEnvelope) -> EventEnvelope:
    """The envelope at its type's current version (itself when already current).

    Raises ``UnknownEventType`` or ``UnsupportedSchemaVersion`` (both ``ValueError``).
    """
    newest = current_version(envelope.type)
    version = envelope.schema_version
    if version == newest:
        return envelope
    if not 1 <= version < newest:
        raise UnsupportedSchemaVersion(envelope.type, version, newest)
    data = envelope.data
    while version < newest:
        data = UPCASTERS[(envelope.type, version)](data)
        version += 1
    return envelope.model_copy(update={"schema_version": version, "data": data})
