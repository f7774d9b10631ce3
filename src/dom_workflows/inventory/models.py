"""Messages of the inventory domain: validation, reserve-and-route, release, consume, receipts."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from dom_workflows.common.models import Address, ShipmentLine
from dom_workflows.insight.models import OrderClosing, ShipmentOutcome
from dom_workflows.inventory.inbound import AtpInbound
from dom_workflows.money import Money
from dom_workflows.order.models import (
    NodeSlaTimes,
    OrderPolicy,
    OrderRequest,
    PartnerSetup,
)


class ValidatedOrder(BaseModel):
    """The order after validation: the destination geocoded, the value computed."""

    ship_to_lat: float
    ship_to_lon: float
    ship_to_state: str | None
    ship_to_zip: str | None
    order_value: Money
    policy: OrderPolicy = Field(default_factory=OrderPolicy)
    review_reason: str | None = None  # set when the order must wait for a fraud review
    partners: PartnerSetup = Field(default_factory=PartnerSetup)


class SourcingLine(ShipmentLine):
    unit_price: Decimal | None = None


class OrderToRoute(BaseModel):
    """What the router needs of an order (not the whole order: lines come as SourcingLines)."""

    order_id: str
    service_level: str = "ground"
    promise_days: int | None = None
    customer_tier: str = "standard"
    delivery: str = "ship"
    pickup_node: str | None = None
    tags: list[str] = Field(default_factory=list)
    channel: str = "web"
    # The storefront cart this order was checked out from: its hold becomes the reservation.
    cart_id: str | None = None

    @classmethod
    def of(cls, order: OrderRequest) -> OrderToRoute:
        return cls(
            order_id=order.order_id,
            service_level=order.service_level,
            promise_days=order.promise_days,
            customer_tier=order.customer.tier,
            delivery=order.delivery,
            pickup_node=order.pickup_node,
            tags=order.tags,
            channel=order.channel,
            cart_id=order.cart_id,
        )


class ReserveAndRouteInput(BaseModel):
    order: OrderToRoute
    destination: ValidatedOrder
    attempt: int = Field(ge=1)
    lines: list[SourcingLine]
    excluded_nodes: dict[str, str] = Field(default_factory=dict)
    weekday: str
    # The order's time of the decision: its shipments' SLA deadlines count from it (insight).
    requested_at: datetime | None = None


class PlannedFulfillment(BaseModel):
    shipment_id: str
    node: str
    node_type: str
    service: str
    lines: list[ShipmentLine]
    sla: NodeSlaTimes
    transit_days: int | None = None
    shipping_cost: Decimal
    handling_cost: Decimal
    ship_from: Address | None = None
    billable_lb: Decimal | None = None


class ReserveAndRouteResult(BaseModel):
    order_id: str
    attempt: int
    strategy: str
    total_cost: Decimal
    summary: str
    fulfillments: list[PlannedFulfillment]
    backordered: list[ShipmentLine]
    plan: dict[str, Any]  # the routing engine's full plan and explanation, kept in history


class ReleaseInput(BaseModel):
    order_id: str
    shipment_id: str | None = None  # None = every open reservation of the order
    line_id: str | None = None
    qty: int | None = Field(default=None, ge=1)  # None = all reserved units that match
    reason: str
    # Distinguishes two partial releases of the same line; a retry reuses the same key.
    idempotency_key: str
    # Why the shipment's units come back (a rejection, a breach), for its outcome record.
    outcome: ShipmentOutcome | None = None


class ReleaseResult(BaseModel):
    released_units: int
    released: list[ShipmentLine] = Field(default_factory=list)


class ConsumeInput(BaseModel):
    order_id: str
    shipment_id: str
    outcome: ShipmentOutcome | None = None  # the shipment as it left, for its outcome record


class ConsumeResult(BaseModel):
    consumed_units: int


class InventoryReceipt(BaseModel):
    node: str
    sku: str
    qty: int = Field(ge=1)
    reference: str  # idempotency key: a receipt with the same reference is applied once


class AtpRow(BaseModel):
    node: str
    on_hand: int
    reserved: int
    held: int = 0  # in shopping carts: out of ATP, not yet any order's
    safety_stock: int
    atp: int


class AtpView(BaseModel):
    sku: str
    nodes: list[AtpRow]
    total_atp: int
    total_on_hand: int
    total_reserved: int
    total_held: int = 0
    # Units on their way (open purchase orders and transfers), earliest first; `available` is
    # what nobody has pre-ordered yet.
    inbound: list[AtpInbound] = Field(default_factory=list)


class OutboundLine(BaseModel):
    sku: str
    qty: int = Field(ge=1)


class UnplannedOutbound(BaseModel):
    """A node reported units shipped for a request the DOM had cancelled (reservations released)."""

    order_id: str
    shipment_id: str
    node: str
    lines: list[OutboundLine] = Field(min_length=1)
    reference: str  # idempotency key, e.g. the partner event id: recorded once
    note: str = ""


class CloseOrderInput(BaseModel):
    order_id: str
    status: str  # the order's final status: completed, cancelled, failed, ...
    reason: str = ""
    closing: OrderClosing | None = None  # money and shipment outcomes, for the insight records


class ReleasedReservation(BaseModel):
    shipment_id: str
    line_id: str
    node: str
    sku: str
    qty: int


class LedgerShipment(BaseModel):
    """Units the ledger reserved for an order under one shipment id, by reservation status."""

    shipment_id: str
    status: str  # reserved, released, consumed
    units: int


class CloseOrderResult(BaseModel):
    order_id: str
    status: str
    released_units: int
    released: list[ReleasedReservation] = Field(default_factory=list)
    # Every shipment id the ledger reserved under for the order, any routing attempt: the
    # order checks them against its own shipments when it closes.
    shipments: list[LedgerShipment] = Field(default_factory=list)


__all__ = ["Address", "AtpRow", "AtpView"]
