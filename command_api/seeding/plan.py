"""What a seed run is asked for (``SeedParams``) and what the simulation hands over:
per-merchant plans and totals (``MerchantPlan``), and windows of commits (``Window``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from shared.events import EventEnvelope

from command_api.application.ports import Commit


@dataclass(frozen=True)
class SeedParams:
    merchants: int
    products: int
    orders: int
    until: datetime  # the end of the history (the run record keeps it, so a resume matches)
    seed: int = 42
    prefix: str = "seed"
    months: int = 6
    batch: int = 20_000  # events per window

    @property
    def run_id(self) -> str:
        return f"{self.prefix}:{self.seed}"


@dataclass
class MerchantPlan:
    index: int
    merchant_id: str
    name: str
    currency: str
    product_ids: list[str] = field(default_factory=list)  # planned to be published
    products: int = 0
    visible_products: int = 0
    stock_units: int = 0
    orders: int = 0
    orders_by_status: Counter[str] = field(default_factory=Counter)
    revenue: int = 0  # paid minus refunded, minor units: what merchant_stats sums


@dataclass
class Window:
    index: int
    commits: list[Commit]
    events: list[EventEnvelope]  # in the order they happened: the publication order
    products_created: int = 0
    orders_placed: int = 0
