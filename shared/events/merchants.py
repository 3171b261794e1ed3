"""Event bodies of the Merchant aggregate (topic ``merchants.events``).

Key material never travels in events: only which kinds of key were rotated.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

AGGREGATE_TYPE = "merchant"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MerchantCreated(Body):
    name: str


class MerchantRenamed(Body):
    name: str


class MerchantKeysRotated(Body):
    kinds: list[Literal["secret", "publishable"]]


EVENTS: tuple[type[Body], ...] = (MerchantCreated, MerchantRenamed, MerchantKeysRotated)
