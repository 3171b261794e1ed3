"""The Merchant aggregate: a merchant's name and the history of its key rotations.

Key material never enters an event; the hashes live in ``api_keys`` for auth lookups.
"""

from __future__ import annotations

from shared.events import merchants as ev

from command_api.domain.aggregate import Aggregate, InvalidState


class Merchant(Aggregate):
    aggregate_type = ev.AGGREGATE_TYPE

    def __init__(self, aggregate_id: str, merchant_id: str) -> None:
        super().__init__(aggregate_id, merchant_id)
        self.name = ""
        self.rotations = 0

    def create(self, name: str) -> None:
        if self.exists:
            raise InvalidState("The merchant already exists.", current_state="active")
        self.record(ev.MerchantCreated(name=name))

    def rename(self, name: str) -> None:
        if name != self.name:
            self.record(ev.MerchantRenamed(name=name))

    def rotate_keys(self, kinds: list[str]) -> None:
        if not kinds:
            raise InvalidState("Name at least one kind of key to rotate.", current_state="active")
        self.record(ev.MerchantKeysRotated(kinds=sorted(set(kinds))))

    def on_MerchantCreated(self, e: ev.MerchantCreated) -> None:
        self.name = e.name

    def on_MerchantRenamed(self, e: ev.MerchantRenamed) -> None:
        self.name = e.name

    def on_MerchantKeysRotated(self, e: ev.MerchantKeysRotated) -> None:
        self.rotations += 1
