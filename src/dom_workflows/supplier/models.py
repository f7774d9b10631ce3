"""Purchase orders to dropship suppliers. The supplier ships direct to the customer; its
acknowledgement and ship notices come back as partner events for `shipment_id`."""

from __future__ import annotations

from pydantic import BaseModel, Field

from dom_workflows.common.models import Address
from dom_workflows.money import Money


class PurchaseOrderLine(BaseModel):
    line_id: str
    sku: str
    qty: int = Field(ge=1)
    unit_cost: Money | None = None


class PurchaseOrder(BaseModel):
    po_id: str  # stable: derived from the shipment id, so a retry is the same PO
    shipment_id: str
    order_id: str
    supplier: str  # the dropship node id
    service: str
    lines: list[PurchaseOrderLine] = Field(min_length=1)
    ship_to: Address

    def idempotency_key(self) -> str:
        return f"po:{self.po_id}"


class CancelPurchaseOrder(BaseModel):
    po_id: str
    shipment_id: str
    supplier: str
    reason: str = "order cancelled"

    def idempotency_key(self) -> str:
        return f"cancel-po:{self.po_id}"


class PurchaseOrderAck(BaseModel):
    """The supplier has the PO (`received`) or has cancelled it (`cancelled`). Confirmation or
    rejection follows asynchronously as `fulfillment.accepted` / `fulfillment.rejected`."""

    po_id: str
    supplier: str
    status: str
    status_code: int
    detail: str = ""


def po_id_for(shipment_id: str) -> str:
    return f"PO-{shipment_id}"
