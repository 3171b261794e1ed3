"""What the projection engine needs from the world around it, as shapes (``typing.Protocol``).

- ``ReadModelStore``: the read-model collections, by *logical* name (a rebuild hands the
  engine a store whose names point at shadow collections). Three ways to write, by what
  a document must survive: ``replace_newer`` (state documents: never missing, even if
  the process dies mid-write), ``write_newer`` (views and derived documents, which the
  engine re-derives on redelivery: may be briefly missing while replaced), both never
  moving a ``version`` backwards; and ``append``/``delete_ids`` (the derived views'
  counters: a document is never changed, only added, then its older ones removed). Reads
  are by ``_id``, by one field's values, and one bounded, sorted read (``first``) for the
  derived views' repairs. ``refusal`` says, without a round trip, why the store could not
  hold a document (a number beyond 64 bits, a document too large): the engine asks before
  it writes, so one aggregate's unstorable data parks that aggregate instead of failing
  the batch for everyone. Adapters:
  ``projectors.adapters.mongo_store`` (MongoDB and FerretDB, chosen per server) and
  ``projectors.adapters.memory_store`` (unit tests); ``tests/contracts`` holds them to
  the same behaviour.
- ``EventHistory``: one aggregate's stored events in a version range (the event store),
  to fill a gap before an event that arrived early.

The engine names only these, never an adapter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from shared.events import EventEnvelope

Doc = dict[str, Any]


class ReadModelStore(Protocol):
    async def find_ids(self, collection: str, ids: Collection[str]) -> dict[str, Doc]:
        """The documents with these ``_id``s, by ``_id`` (missing ones left out)."""
        ...

    async def find_in(self, collection: str, field: str, values: Collection[str]) -> list[Doc]:
        """Every document whose ``field`` is one of ``values`` (an indexed field)."""
        ...

    async def first(
        self,
        collection: str,
        equals: Mapping[str, object],
        order: Sequence[tuple[str, int]],
        limit: int,
        positive: str | None = None,
    ) -> list[Doc]:
        """The first ``limit`` documents matching ``equals`` (and ``positive > 0``) in
        ``order`` (``(field, 1 | -1)``, a matching index behind it)."""
        ...

    async def write_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        """Write each document unless the stored one has an equal or greater ``version``.
        A duplicate, a redelivery or a concurrent older writer is a no-op, never an error.
        A reader, or a crash, may catch a document missing while it is replaced.
        ``known``: stored versions the caller read moments ago (an ``_id`` left out was not
        stored); a store may trust them to save a read, and must stay correct if they
        are out of date."""
        ...

    async def replace_newer(self, collection: str, docs: Sequence[Doc], known: Mapping[str, int] | None = None) -> None:
        """``write_newer``, in place: no reader or crash ever finds a document missing."""
        ...

    async def append(self, collection: str, docs: Sequence[Doc]) -> None:
        """Insert each document; one whose ``_id`` is stored already is left as stored."""
        ...

    async def delete_ids(self, collection: str, ids: Collection[str]) -> None: ...

    async def older_ids(self, collection: str, equals: Mapping[str, object], field: str, below: int) -> list[str]:
        """The ``_id`` of every document matching ``equals`` whose ``field`` is below ``below``."""
        ...

    async def set_merchant_name(self, collection: str, ids: Collection[str], name: str, version: int) -> None:
        """Give these products the merchant's name and version, where they hold an older
        ``merchant_version`` (their own ``version`` does not move)."""
        ...

    def refusal(self, doc: Doc) -> str | None:
        """Why this store would refuse ``doc`` for what it holds, checked here (no round
        trip); ``None`` if it can be stored. An outage is never a refusal."""
        ...


class EventHistory(Protocol):
    async def events_between(self, aggregate_id: str, after: int, before: int) -> list[EventEnvelope]:
        """The aggregate's stored events with ``after < version < before``, in order."""
        ...
