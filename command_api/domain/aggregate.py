"""The aggregate base: state rebuilt from events, new decisions recorded as pending events."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel


class DomainError(Exception):
    """A command that the aggregate refuses. Mapped to an HTTP status in one place."""

    status: ClassVar[int] = 409
    code: ClassVar[str] = "conflict"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message, self.details = message, details


class InvalidState(DomainError):
    code = "invalid_state"


class NotFound(DomainError):
    """Absent, or another merchant's: the two are indistinguishable on purpose."""

    status = 404
    code = "not_found"


class VersionMismatch(DomainError):
    """The client's ``If-Match`` version is not the aggregate's current version."""

    status = 412
    code = "version_mismatch"


class Contended(DomainError):
    """Too many concurrent writers on one aggregate; the client may retry."""

    status = 409
    code = "contended"


class Aggregate:
    """An event-sourced aggregate: ``version`` counts the events applied so far."""

    aggregate_type: ClassVar[str]

    def __init__(self, aggregate_id: str, merchant_id: str) -> None:
        self.id, self.merchant_id = aggregate_id, merchant_id
        self.version = 0
        self.pending: list[tuple[str, BaseModel]] = []

    def apply(self, event_type: str, data: BaseModel) -> None:
        """Change state for one event; subclasses define ``on_<EventType>`` methods."""
        getattr(self, f"on_{event_type}")(data)
        self.version += 1

    def record(self, data: BaseModel) -> None:
        """Decide: apply a new event now and keep it for the next append."""
        event_type = type(data).__name__
        self.apply(event_type, data)
        self.pending.append((event_type, data))

    @property
    def exists(self) -> bool:
        return self.version > 0
