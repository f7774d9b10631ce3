"""Messages and state of the order domain: one pydantic model per workflow input, output,
signal, update and query, so fields can be added without breaking running workflows."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.common.models import Address, Customer, ShipmentLine
from dom_workflows.money import Money

ORDER_WORKFLOW_ID_PREFIX = "order-"


def order_workflow_id(order_id: str) -> str:
    return f"{ORDER_WORKFLOW_ID_PREFIX}{order_id}"


class OrderLine(BaseModel):
    line_id: str
    sku: str
    # Deliberately not constrained here: the workflow's validation reports a bad quantity as an
    # InvalidOrder failure with the line named, instead of a decode error nobody can read.
    qty: int
    unit_price: Money


class OrderRequest(BaseModel):
    """What a channel submits. `order_id` is the channel-independent idempotency key."""

    order_id: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    channel: str = "web"
    external_id: str | None = None
    customer: Customer
    lines: list[OrderLine]
    ship_to: Address | None = None
    service_level: str = "ground"
    promise_days: int | None = None
    delivery: Literal["ship", "pickup"] = "ship"
    pickup_node: str | None = None
    tags: list[str] = Field(default_factory=list)
    placed_at: datetime | None = None
    # A token from the channel's payment form; the DOM never sees card numbers.
    payment_token: str | None = None

    def value(self) -> Money:
        currency = self.lines[0].unit_price.currency if self.lines else "USD"
        total = Money.zero(currency)
        for line in self.lines:
            total = total + line.unit_price.times(line.qty)
        return total


class OrderPolicy(BaseModel):
    """How orders behave when things go wrong; from the network config, via validation, so the
    values a run used are in its history."""

    max_route_attempts: int = 4
    after_max_attempts: Literal["backorder", "cancel"] = "backorder"
    backorder_deadline: timedelta = timedelta(days=14)
    hold_timeout: timedelta = timedelta(days=2)
    fraud_review_value: Decimal | None = None  # orders worth at least this wait for review
    return_window: timedelta = timedelta(days=30)
    return_node: str | None = None
    consolidation_window: timedelta = timedelta(0)  # 0 = consolidation off


class PartnerSetup(BaseModel):
    """Which partner integrations the worker that validated the order has configured; the run
    follows what is in its history even if a later worker is configured differently."""

    payments: bool = False
    carrier_labels: bool = False
    supplier_pos: bool = False


class PaymentSummary(BaseModel):
    authorization_id: str | None = None
    status: str = "pending"  # pending | authorized | declined | voided | captured
    authorized: Money
    captured: Money
    released: Money  # uncaptured authorization given back (void)
    refunded: Money
    declines: list[str] = Field(default_factory=list)


class PaymentUpdate(BaseModel):
    payment_token: str = Field(min_length=1, max_length=200)


HoldKind = Literal["fraud", "payment", "manual", "consolidation"]


class Hold(BaseModel):
    kind: HoldKind
    reason: str
    placed_at: datetime
    placed_by: str = "system"


class PlaceHold(BaseModel):
    kind: Literal["fraud", "manual"] = "manual"
    reason: str = Field(min_length=1, max_length=500)
    placed_by: str = "ops"


class ReleaseHold(BaseModel):
    kind: HoldKind | None = None  # None = every hold
    note: str = Field(default="released", max_length=500)
    released_by: str = "ops"


class OrderStatus(StrEnum):
    RECEIVED = "received"
    ROUTED = "routed"
    FULFILLING = "fulfilling"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    ON_HOLD = "on_hold"


class ShipmentStatus(StrEnum):
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"

    @property
    def is_open(self) -> bool:
        return self in (ShipmentStatus.REQUESTED, ShipmentStatus.ACCEPTED)


class NodeSlaTimes(BaseModel):
    accept_within: timedelta
    ship_within: timedelta
    deliver_within: timedelta


class Shipment(BaseModel):
    shipment_id: str
    node: str
    node_type: str
    lines: list[ShipmentLine]
    service: str
    route_attempt: int
    sla: NodeSlaTimes
    status: ShipmentStatus = ShipmentStatus.REQUESTED
    carrier: str | None = None
    tracking: str | None = None
    requested_at: datetime | None = None
    accepted_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    reason: str | None = None
    ship_from: Address | None = None
    billable_lb: Decimal | None = None
    po_id: str | None = None  # dropship: the purchase order sent to the supplier
    label_id: str | None = None  # ship-from-store: the label the DOM bought
    captured: Money | None = None
    capture_id: str | None = None  # refunds (returns) are made against this capture
    consolidation_group: str | None = None
    # What the node was first asked for; `lines` shrink as units are cancelled.
    requested_lines: list[ShipmentLine] = Field(default_factory=list)

    @property
    def units(self) -> int:
        return sum(line.qty for line in self.lines)


class LineState(BaseModel):
    line_id: str
    sku: str
    qty: int
    unit_price: Money
    allocated: int = 0
    shipped: int = 0
    delivered: int = 0
    cancelled: int = 0
    backordered: int = 0


class TimelineEvent(BaseModel):
    at: datetime
    kind: str
    message: str
    shipment_id: str | None = None


class RouteSummary(BaseModel):
    attempt: int
    strategy: str
    total_cost: Decimal
    summary: str
    shipments: list[str]
    backordered: list[ShipmentLine] = Field(default_factory=list)


class OrderState(BaseModel):
    """The whole story of an order, as the `state` query returns it."""

    order_id: str
    workflow_id: str
    status: OrderStatus
    channel: str
    customer_id: str
    customer_tier: str
    order_value: Money
    lines: list[LineState]
    shipments: list[Shipment] = Field(default_factory=list)
    routes: list[RouteSummary] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    escalations: list[str] = Field(default_factory=list)
    holds: list[Hold] = Field(default_factory=list)
    rejections: list[str] = Field(default_factory=list)
    backorder_workflow_id: str | None = None
    payment: PaymentSummary | None = None
    stop_reason: str | None = None


ShipmentEventType = Literal["accepted", "rejected", "shipped", "delivered"]


class ShipmentEvent(BaseModel):
    """A partner's report about one fulfilment request; `event_id` makes redelivery harmless."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=200)
    shipment_id: str
    type: ShipmentEventType
    carrier: str | None = None
    tracking: str | None = None
    reason: str | None = None
    lines: list[ShipmentLine] | None = None
    occurred_at: datetime | None = None


class CancelLine(BaseModel):
    line_id: str
    qty: int | None = None  # None = every unit of the line that has not shipped


class CancelRequest(BaseModel):
    reason: str = Field(default="customer request", max_length=500)
    lines: list[CancelLine] | None = None  # None = the whole order
    requested_by: str = "customer"


class CancelResult(BaseModel):
    cancelled: list[ShipmentLine]
    released_units: int
    order_status: OrderStatus
    # Value of the cancelled units: never captured, so the authorization gives it back.
    amount_not_charged: Money | None = None


class OrderResult(BaseModel):
    order_id: str
    status: OrderStatus
    stop_reason: str | None = None
    shipments: list[Shipment]
