"""Writing each derived document from its summed counters (``derived.Compose``), and what
a sum cannot give: a category's price range (``min_price``/``max_price`` of its published
products). The stored range moved by this batch's prices when the stored document reflects
every other source as it is; otherwise, or when the cheapest (dearest) product left, one
read of the category's cheapest (dearest) visible product through
``cat_merchant_category_price``. That read runs after this batch's counters are written
and read back, and every writer writes ``catalog_products`` (in place) before its
counters, so the newest recomputation of a category saw every product its counters
reflect (docs/projections.md, "Why the derived views are exact"). A day's top products are
a sum: its per-product counters (``merchant_stats``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shared.read_models import CATALOG_PRODUCTS

from projectors.application.derived import KeyState
from projectors.application.ports import Doc, ReadModelStore
from projectors.domain import categories, merchant_stats

ASC, DESC = 1, -1


def _moved(current: int | None, removed: Sequence[int], added: Sequence[int], best: Callable[..., int]) -> int | None:
    """The extreme after this batch, or ``None`` when only a read can tell (it left)."""
    if current is not None and current in removed:
        beating = [a for a in added if best(a, current) == a]
        return best(beating) if beating else None
    pool = [*added, *([current] if current is not None else [])]
    return best(pool) if pool else None


async def _extreme_price(store: ReadModelStore, identity: dict[str, str], direction: int) -> int | None:
    found = await store.first(
        CATALOG_PRODUCTS,
        {"merchant_id": identity["merchant_id"], "visible": True, "category": identity["category"]},
        [("price_amount", direction), ("_id", direction)],
        1,
    )
    return found[0]["price_amount"] if found else None


async def price_range(store: ReadModelStore, state: KeyState) -> tuple[int | None, int | None]:
    if state.counts.get("product_count", 0) <= 0:
        return None, None
    low = high = None
    if state.stored_is_current():
        stored = state.stored or {"min_price": None, "max_price": None}
        low = _moved(stored["min_price"], state.prices.removed, state.prices.added, min)
        high = _moved(stored["max_price"], state.prices.removed, state.prices.added, max)
    if low is None:
        low = await _extreme_price(store, state.identity, ASC)
    if high is None:
        high = await _extreme_price(store, state.identity, DESC)
    return low, high


async def compose_category(store: ReadModelStore, state: KeyState) -> Doc:
    span = await price_range(store, state)
    return dict(categories.document(state.key, state.identity, state.counts, span, state.version, state.source_list()))


async def compose_merchant_stats(store: ReadModelStore, state: KeyState) -> Doc:
    return dict(
        merchant_stats.document(
            state.key, state.identity, state.counts, state.latest, state.version, state.source_list()
        )
    )
