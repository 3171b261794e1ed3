"""A command reaches the event store in a few calls: raise inside the store from a real
HTTP request and count the project's frames from the endpoint function to the port call
(issue #22: at most 6; before the composition root a command passed 9 call levels)."""

from __future__ import annotations

import traceback
from pathlib import Path

import pytest

from command_api.application.ports import Record
from tests.support.command_side import in_memory_api, order_body

ROOT = Path(__file__).resolve().parents[2]


class StoreDown(Exception):
    pass


def project_frames_from_endpoint_to_port(error: BaseException) -> list[str]:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename).is_relative_to(ROOT)]
    start = next(i for i, f in enumerate(frames) if f.name == "endpoint")
    return [f"{Path(f.filename).relative_to(ROOT)}:{f.name}" for f in frames[start:]]


async def fail_appends(*records: Record | list[Record], **options: object) -> None:
    raise StoreDown("the event store is unreachable")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/products/{id}/stock", {"delta": 1, "reason": "count"}),
        ("/v1/products", None),
        ("/v1/orders", "order"),
    ],
)
async def test_a_command_reaches_the_store_within_six_frames(path, body):
    async with in_memory_api() as api:
        product = await api.create_product(stock=5)
        if body is None:
            from tests.support.command_side import product_body

            body = product_body()
        elif body == "order":
            body = order_body((product, 1))
        api.side.store.append = fail_appends  # type: ignore[method-assign]  # the port breaks under the request
        api.side.store.append_chain = fail_appends  # type: ignore[method-assign]  # (an order's hold and order)
        with pytest.raises(StoreDown) as raised:
            await api.client.post(path.format(id=product), json=body, headers=api.sk())
    frames = project_frames_from_endpoint_to_port(raised.value)
    assert frames[-1].endswith(":fail_appends")
    assert len(frames) <= 6, "\n".join(frames)
