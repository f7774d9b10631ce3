"""Messages between the order workflow and fulfilment nodes (warehouses, 3PLs, stores, suppliers)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from dom_workflows.common.models import Address, ShipmentLine


class FulfillmentRequest(BaseModel):
    shipment_id: str
    order_id: str
    node: str
    service: str
    lines: list[ShipmentLine]
    ship_to: Address
    # Shipments with the same group (one customer, one address) leave as one parcel.
    consolidation_group: str | None = None


class CancelFulfillment(BaseModel):
    shipment_id: str
    order_id: str
    node: str
    reason: str


class AmendFulfillment(BaseModel):
    """Some units of a request were cancelled: `lines` is what the node should still ship."""

    shipment_id: str
    order_id: str
    node: str
    lines: list[ShipmentLine]
    reason: str
    seq: int  # numbers the order's amendments, so each is its own effect and a retry is not

    def idempotency_key(self) -> str:
        return f"amend:{self.shipment_id}:{self.seq}"


class NodeAck(BaseModel):
    shipment_id: str
    node: str
    adapter: Literal["http", "noop"]
    status_code: int | None = None
    detail: str = ""
