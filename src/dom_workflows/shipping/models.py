"""Messages between the order workflow and a carrier adapter.

The wire format (docs/partners.md, "Carrier") mirrors these models, so a real carrier is a new
adapter that maps them, not a new workflow.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.common.models import Address
from dom_workflows.money import Amount, Money


class Parcel(BaseModel):
    weight_lb: Amount = Field(gt=Decimal("0"))


class RateRequest(BaseModel):
    """Quotes for one shipment; `shipment_id` makes the call traceable and idempotent."""

    shipment_id: str
    order_id: str
    ship_from: Address
    ship_to: Address
    parcel: Parcel
    # None = quote every service; otherwise only this one (e.g. the order's service level).
    service: str | None = None
    promise_days: int | None = Field(default=None, ge=1)


class RateQuote(BaseModel):
    rate_id: str
    carrier: str
    service: str
    amount: Money
    transit_days: int


class RateShopResult(BaseModel):
    shipment_id: str
    quotes: list[RateQuote]
    # The cheapest quote that meets the promise (or the fastest when none does); None = no quotes.
    best: RateQuote | None = None


class LabelRequest(BaseModel):
    """Buy a label. For a return label `is_return` is true (wire field `return`): the carrier
    picks up from the customer (`ship_from`) and delivers to the return node (`ship_to`)."""

    model_config = ConfigDict(populate_by_name=True)

    shipment_id: str  # outbound: the DOM shipment id; returns: the return id
    order_id: str
    carrier: str
    service: str
    ship_from: Address
    ship_to: Address
    parcel: Parcel
    rate_id: str | None = None
    is_return: bool = Field(default=False, alias="return")

    def idempotency_key(self) -> str:
        return f"{'return-label' if self.is_return else 'label'}:{self.shipment_id}"


class Label(BaseModel):
    label_id: str
    shipment_id: str
    carrier: str
    service: str
    tracking: str
    cost: Money
    label_url: str
    is_return: bool = False


class VoidLabel(BaseModel):
    label_id: str
    shipment_id: str
    reason: str = "shipment cancelled"


class VoidLabelResult(BaseModel):
    label_id: str
    # "voided", or "not_found" when the carrier never had it (nothing left to void either way).
    status: str
