"""Writing each derived document from its summed counters (``derived.Compose``), and the
parts a sum cannot give:

- a category's price range (``min_price``/``max_price`` of its published products): the
  stored range moved by this batch's prices when the stored document reflects every other
  source as it is; otherwise, or when the cheapest (dearest) product left, one read of the
  category's cheapest (dearest) visible product through ``cat_merchant_category_price``;
- a day's ``top_products``: the stored five merged with the products this batch sold when
  the stored document is current and none of the five lost units; otherwise one read of
  the day's five best ``product_sales`` through ``sales_bucket_units``.

Those reads run after this batch's counters are written and read back, and every writer
writes the source documents (``catalog_products``; ``product_sales``) before its
counters, so the newest recomputation of a document saw every source document that its
counters reflect (docs/projections.md, "Why the derived views are exact").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from shared.read_models import CATALOG_PRODUCTS, PRODUCT_SALES, TopProduct, loaded_int

from projectors.application.derived import Context, KeyState
from projectors.application.ports import Doc, ReadModelStore
from projectors.domain import categories, merchant_stats, product_sales

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


async def compose_category(store: ReadModelStore, state: KeyState, context: Context) -> Doc:
    span = await price_range(store, state)
    return dict(categories.document(state.key, state.identity, state.counts, span, state.version, state.source_list()))


async def compose_product_sales(store: ReadModelStore, state: KeyState, context: Context) -> Doc:
    name = state.latest.value if state.latest else ""
    units = state.counts.get("units", 0)
    return dict(product_sales.document(state.key, state.identity, units, name, state.version, state.source_list()))


def _merged_top(current: list[TopProduct], sold: list[product_sales.Sales]) -> list[TopProduct] | None:
    """The five after this batch from the stored five and this batch's products, or
    ``None`` when one of the five lost units (only a read can tell who replaces it)."""
    by_id = {p["product_id"]: product_sales.Sales(p["product_id"], p["name"], loaded_int(p["units"])) for p in current}
    for sales in sold:
        was = by_id.get(sales.product_id)
        if was is not None and sales.units < was.units:
            return None
        by_id[sales.product_id] = sales
    return merchant_stats.top_of(by_id.values())


async def top_products(store: ReadModelStore, state: KeyState, context: Context) -> list[TopProduct]:
    if state.stored_is_current():
        sold = [product_sales.of_document(d) for d in context.get(PRODUCT_SALES, []) if d["bucket"] == state.key]
        merged = _merged_top(state.stored["top_products"] if state.stored else [], sold)
        if merged is not None:
            return merged
    best = await store.first(
        PRODUCT_SALES,
        {"bucket": state.key},
        [("units", DESC), ("product_id", ASC)],
        product_sales.TOP_PRODUCTS,
        positive="units",
    )
    return merchant_stats.top_of(product_sales.of_document(d) for d in best)


async def compose_merchant_stats(store: ReadModelStore, state: KeyState, context: Context) -> Doc:
    top = await top_products(store, state, context)
    return dict(
        merchant_stats.document(state.key, state.identity, state.counts, top, state.version, state.source_list())
    )
