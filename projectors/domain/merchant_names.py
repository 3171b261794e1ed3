"""``merchant_names``: each merchant's display name, from ``merchants.events``.

Products carry a denormalised ``merchant_name`` (storefronts show it without a join). A
product may be projected before or after its merchant's name, from another topic, so both
sides write their own documents and *then* copy the name across, guarded by
``merchant_version``: whichever side writes last sees the other's write, so no product
keeps a stale name (see ``projectors.adapters.derived.propagate_merchant_names``).
"""

from __future__ import annotations

from pydantic import BaseModel

from shared.events import EventEnvelope
from shared.events import merchants as ev
from shared.read_models import MERCHANT_NAMES

from projectors.domain.contributions import Doc
from projectors.domain.errors import Unprojectable
from projectors.domain.values import int64, millis

COLLECTION = MERCHANT_NAMES


def evolve(state: Doc | None, event: EventEnvelope, data: BaseModel) -> Doc:
    if isinstance(data, ev.MerchantCreated):
        if state is not None:
            raise Unprojectable(f"merchant {event.aggregate_id} created twice")
        doc = {
            "_id": event.aggregate_id,
            "merchant_id": event.aggregate_id,
            "name": data.name,
            "created_at": millis(event.occurred_at),
        }
    elif state is None:
        raise Unprojectable(f"{event.type} before MerchantCreated")
    elif isinstance(data, ev.MerchantRenamed):
        doc = {**state, "name": data.name}
    elif isinstance(data, ev.MerchantKeysRotated):
        doc = dict(state)  # nothing to show; the version still moves on
    else:
        raise Unprojectable(f"{event.type} is not a merchant event")
    doc["updated_at"] = millis(event.occurred_at)
    doc["version"] = int64(event.aggregate_version, "version")
    return doc
