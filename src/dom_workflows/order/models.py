"""Messages and state of the order domain: one pydantic model per workflow input, output,
signal, update and query, so fields can be added without breaking running workflows."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

from dom_workflows.common.models import Address, Customer, ShipmentLine
from dom_workflows.inventory.inbound import BackorderPromise
from dom_workflows.money import CENTS, Money

ORDER_WORKFLOW_ID_PREFIX = "order-"


def order_workflow_id(order_id: str) -> str:
    return f"{ORDER_WORKFLOW_ID_PREFIX}{order_id}"


class OrderLine(BaseModel):
    line_id: str
    sku: str
    # Deliberately not constrained here: the workflow's validation reports a bad quantity as an
    # InvalidOrder failure with the line named, instead of a decode error nobody can read.
    qty: int
    unit_price: Money  # list price of one unit, before discounts and tax
    # What the channel charged for the line, all `qty` units together, in the order currency.
    # Absent = none: a line without them costs unit_price x qty, as it always did.
    discount: Money | None = None  # line- and order-level discounts allocated to this line
    tax: Money | None = None  # tax charged on the line (on the discounted price)
    tax_included: bool = False  # unit_price already includes `tax` (Shopify `taxes_included`)

    def net(self) -> Money:
        """The line's goods after discounts, before tax: unit_price x qty - discount."""
        gross = self.unit_price.times(self.qty)
        return gross - self.discount if self.discount is not None else gross

    def total(self) -> Money:
        """What the customer pays for the line: its net price, tax included."""
        if self.tax is None or self.tax_included:
            return self.net()
        return self.net() + self.tax

    def value_of(self, units: int) -> Money:
        """What `units` of the line are worth (captured when they ship, refunded when they are
        cancelled or returned): the line's total, tax included, pro rata, to the cent."""
        if self.discount is None and self.tax is None:
            return self.unit_price.times(units)
        total = self.total()
        if units == self.qty:
            return total
        if self.qty <= 0:  # refused by validation; never a division by zero
            return Money.zero(total.currency)
        share = (total.amount * units / self.qty).quantize(CENTS, ROUND_HALF_EVEN)
        return Money(amount=share, currency=total.currency)


PaymentMode = Literal["dom", "channel"]


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
    # The cart checked out (POST /v1/carts/{cart_id}/hold): its active hold becomes this
    # order's reservation, exactly once.
    cart_id: str | None = Field(
        default=None, min_length=1, max_length=120, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"
    )
    # A token from the channel's payment form; the DOM never sees card numbers.
    payment_token: str | None = None
    # Who takes the money. `dom`: the DOM authorizes the order's value and captures what ships
    # through its payment provider. `channel`: the customer paid at the channel (`paid`); the
    # DOM records it, never charges it, and leaves refunds to the channel as events to act on.
    payment_mode: PaymentMode = "dom"
    paid: Money | None = None  # what the channel collected (payment_mode `channel`)
    # The channel has taken the order (and maybe the money): one that cannot be fulfilled as
    # received waits on a review hold with the reason instead of failing.
    hold_if_invalid: bool = False
    # The channel's order totals, carried as given (order currency; absent = unknown):
    # grand_total = sum of line net() + shipping + tax_total (tax_total covers lines and
    # shipping; unless taxes are included in the prices).
    shipping: Money | None = None  # shipping charged, after shipping discounts, before tax
    tax_total: Money | None = None  # all tax: the lines' plus the shipping's
    discount_total: Money | None = None  # all discounts: lines' (incl. order-level) and shipping
    grand_total: Money | None = None  # what the customer was charged (Shopify `total_price`)

    def value(self) -> Money:
        """What the customer pays for the goods: each line's price after its discounts
        (line- and order-level), plus its tax; shipping and shipping tax are not included. For
        lines without discount and tax this is sum(unit_price x qty), as it always was."""
        currency = self.lines[0].unit_price.currency if self.lines else "USD"
        total = Money.zero(currency)
        for line in self.lines:
            total = total + line.total()
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


PaymentOperationKind = Literal["authorize", "capture", "release", "refund"]


class PaymentOperation(BaseModel):
    """One payment operation that took effect: an authorization, a shipment's capture, the
    release (void) of the uncaptured rest, a refund. `by` the DOM's provider, or by the channel
    for an order paid there (its payment and the refunds it owes)."""

    kind: PaymentOperationKind
    key: str  # its idempotency key: an operation is recorded once, whichever answer came back
    amount: Money
    at: datetime
    reference: str | None = None  # the provider's id: authorization, capture or refund
    shipment_id: str | None = None
    by: Literal["provider", "channel"] = "provider"


class PaymentSummary(BaseModel):
    """The order's payment book. Its amounts are derived from `operations`, never accumulated
    or copied from a provider's running total: two captures answering out of order, or a
    retried call answering with an older total, cannot make the book lose one. The derived
    amounts are serialized as before (`authorized`, `captured`, `released`, `refunded`), so
    query and API clients keep reading them; on input they are recomputed, not trusted."""

    authorization_id: str | None = None
    # pending | authorized | declined | voided | captured | paid_at_channel
    status: str = "pending"
    currency: str = "USD"
    operations: list[PaymentOperation] = Field(default_factory=list)
    declines: list[str] = Field(default_factory=list)

    def total(self, kind: PaymentOperationKind) -> Money:
        return sum(
            (op.amount for op in self.operations if op.kind == kind),
            start=Money.zero(self.currency),
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def authorized(self) -> Money:
        return self.total("authorize")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def captured(self) -> Money:
        return self.total("capture")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def released(self) -> Money:
        """Uncaptured authorization given back (void)."""
        return self.total("release")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def refunded(self) -> Money:
        return self.total("refund")

    @property
    def uncaptured(self) -> Money:
        """What the authorization still holds: authorized, less captured and released."""
        return self.authorized - self.captured - self.released

    def recorded(self, key: str) -> PaymentOperation | None:
        return next((op for op in self.operations if op.key == key), None)

    def record(self, op: PaymentOperation) -> bool:
        """Add `op` unless an operation with its idempotency key is already recorded (a
        retried or replayed answer is the same operation). True if it was added."""
        if op.amount.currency != self.currency:
            raise ValueError(f"{op.kind} {op.key} is in {op.amount.currency}, not {self.currency}")
        if self.recorded(op.key) is not None:
            return False
        self.operations.append(op)
        return True


class PaymentUpdate(BaseModel):
    payment_token: str = Field(min_length=1, max_length=200)


HoldKind = Literal["fraud", "payment", "manual", "consolidation", "review"]


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


class OrderTotals(BaseModel):
    """The order's money as the channel stated it; absent figures are unknown, not zero."""

    goods: Money  # the lines after their discounts, tax included (OrderRequest.value())
    discounts: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    grand_total: Money | None = None


class OrderState(BaseModel):
    """The whole story of an order, as the `state` query returns it."""

    order_id: str
    workflow_id: str
    status: OrderStatus
    channel: str
    customer_id: str
    customer_tier: str
    order_value: Money
    external_id: str | None = None
    customer_email: str | None = None
    ship_to: Address | None = None
    delivery: Literal["ship", "pickup"] = "ship"
    pickup_node: str | None = None
    tags: list[str] = Field(default_factory=list)
    payment_mode: PaymentMode = "dom"
    totals: OrderTotals | None = None
    lines: list[LineState]
    shipments: list[Shipment] = Field(default_factory=list)
    routes: list[RouteSummary] = Field(default_factory=list)
    timeline: list[TimelineEvent] = Field(default_factory=list)
    escalations: list[str] = Field(default_factory=list)
    holds: list[Hold] = Field(default_factory=list)
    rejections: list[str] = Field(default_factory=list)
    backorder_workflow_id: str | None = None
    # Backordered units and when they are expected: the inbound (PO, transfer) they are
    # pre-ordered against, or no date while none is announced.
    backorders: list[BackorderPromise] = Field(default_factory=list)
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
