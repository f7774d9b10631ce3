"""What partners (nodes, 3PLs, stores, suppliers, carriers) send to the DOM over signed webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from dom_workflows.common.models import ShipmentLine

PartnerEventType = Literal[
    "fulfillment.accepted",
    "fulfillment.rejected",
    "shipment.shipped",
    "shipment.delivered",
]

# Partner event type -> the order workflow's shipment event type.
EVENT_TO_SHIPMENT_EVENT = {
    "fulfillment.accepted": "accepted",
    "fulfillment.rejected": "rejected",
    "shipment.shipped": "shipped",
    "shipment.delivered": "delivered",
}


class PartnerEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=200)
    type: PartnerEventType
    shipment_id: str = Field(min_length=1, max_length=200)
    order_id: str | None = None  # optional: derivable from the shipment id
    lines: list[ShipmentLine] | None = None
    reason: str | None = Field(default=None, max_length=500)
    carrier: str | None = Field(default=None, max_length=60)
    tracking: str | None = Field(default=None, max_length=100)
    occurred_at: datetime | None = None


class InventoryItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str
    on_hand: int | None = Field(default=None, ge=0)  # snapshot mode
    delta: int | None = None  # delta mode


class InventoryFeed(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feed_id: str = Field(min_length=1, max_length=200)
    node: str
    mode: Literal["snapshot", "delta"]
    items: list[InventoryItem] = Field(min_length=1)
    # Snapshots only: when the stock was counted (timezone-aware). Movements the DOM recorded
    # after it (a shipment, a receipt) are applied on top of the count; a snapshot counted before
    # the last one applied to a position is ignored for that position. Omitted: the time the DOM
    # receives the feed (the count is taken to be current).
    as_of: AwareDatetime | None = None


def order_id_of_shipment(shipment_id: str) -> str:
    """Shipment ids are `<order_id>:<routing attempt>:<node>`."""
    parts = shipment_id.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        raise ValueError(f"{shipment_id!r} is not a DOM shipment id")
    return parts[0]
