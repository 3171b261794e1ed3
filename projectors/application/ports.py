"""What the projection engine needs from the store around it, as a shape
(``typing.Protocol``): a writer of read-model documents that never moves a ``version``
backwards. ``projectors.adapters.bulk.Writer`` implements it, chosen per server by
``detect_writer``; the engine names only this, so it never imports an adapter.
"""

from __future__ import annotations

from typing import Protocol

from pymongo.asynchronous.collection import AsyncCollection


class NewerWriter(Protocol):
    async def write_newer(self, collection: AsyncCollection, docs: list[dict]) -> int:
        """Write each document unless the stored one is as new; returns how many were not.

        A duplicate, a redelivery or a concurrent older writer is a no-op, never an error.
        """
        ...
