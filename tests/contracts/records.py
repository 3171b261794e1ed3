"""Records for the contract suites: commits of one product aggregate, outcomes."""

from __future__ import annotations

import uuid

from shared.events import EventEnvelope

from command_api.application.ports import Answer, Commit, Hold, Outcome


def commit(
    aggregate_id: str,
    first_version: int,
    count: int = 1,
    command_id: str | None = None,
    *,
    fingerprint: str | None = None,
    hold: bool = False,
) -> Commit:
    events = [
        EventEnvelope(
            type="ProductStockAdjusted",
            aggregate_type="product",
            aggregate_id=aggregate_id,
            aggregate_version=first_version + i,
            merchant_id="m1",
            correlation_id="corr",
            data={"delta": 1, "reason": "count", "stock": first_version + i},
        )
        for i in range(count)
    ]
    intent = (
        Hold(order_id="o1", command_id="place-1", correlation_id="corr", fingerprint="fp", product_ids=[aggregate_id])
        if hold
        else None
    )
    return Commit(
        "product", aggregate_id, "m1", command_id or uuid.uuid4().hex, events, fingerprint=fingerprint, intent=intent
    )


def outcome(command_id: str, status: int = 409, fingerprint: str | None = "fp") -> Outcome:
    return Outcome(
        command_id, "m1", Answer(status, {"error": {"code": "insufficient_stock", "message": "no"}}), fingerprint
    )


def new_id() -> str:
    return str(uuid.uuid4())
