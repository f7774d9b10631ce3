"""Messages and state of the returns domain (reverse logistics, RMAs).

An RMA (`RMA-<order_id>-<n>`) is one ReturnWorkflow (`return-<rma_id>`): it authorises some
delivered units of one order to come back, issues a return label, waits for the return node to
report their receipt (with a grade per unit), restocks resellable units and refunds -- or, for an
exchange, starts a replacement order (`<order_id>-X<n>`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from dom_workflows.common.errors import INVALID_RETURN, RETURN_REFUSED, RMA_TAKEN, UNKNOWN_ORDER
from dom_workflows.common.models import Address, Customer
from dom_workflows.money import Money
from dom_workflows.order.models import (
    OrderLine,
    OrderRequest,
    OrderState,
    PaymentMode,
    TimelineEvent,
)

RETURN_WORKFLOW_ID_PREFIX = "return-"
# Refund sequence numbers of an RMA: `refund:<order>:<REFUND_SEQ_BASE * n + k>` for its k-th
# capture, so two RMAs of one order (and the order's own refunds, numbered 1, 2, ...) never
# share an idempotency key.
REFUND_SEQ_BASE = 1000
MAX_RMAS_PER_ORDER = 99

Grade = Literal["resell", "refurbish", "scrap"]
GRADES: tuple[Grade, ...] = ("resell", "refurbish", "scrap")

# Failure types of an RMA that could not be opened (names in dom_workflows.common.errors; the
# API maps them to 404 / 422 / 409). RmaTaken: the RMA id is already held in the database by
# another request, the client takes the next n.
REFUSAL_TYPES = (UNKNOWN_ORDER, INVALID_RETURN, RETURN_REFUSED, RMA_TAKEN)


def rma_id_for(order_id: str, n: int) -> str:
    return f"RMA-{order_id}-{n}"


def return_workflow_id(rma_id: str) -> str:
    return f"{RETURN_WORKFLOW_ID_PREFIX}{rma_id}"


def exchange_order_id(order_id: str, n: int) -> str:
    return f"{order_id}-X{n}"


# ----------------------------------------------------------------- requests
class ReturnLineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=100_000)
    reason: str = Field(default="", max_length=500)


class ExchangeLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=1_000)


class ReturnRequest(BaseModel):
    """What the customer (API, client, CLI) asks to send back."""

    model_config = ConfigDict(extra="forbid")

    lines: list[ReturnLineRequest] = Field(min_length=1, max_length=200)
    exchange: bool = False
    # Exchange only: what to send instead; None = the same SKUs as the units received back.
    exchange_lines: list[ExchangeLine] | None = Field(default=None, max_length=200)
    requested_by: str = Field(default="customer", max_length=100)


class ReturnInput(BaseModel):
    """The ReturnWorkflow's input."""

    rma_id: str
    order_id: str
    seq: int = Field(ge=1)  # the n of RMA-<order>-<n>
    request: ReturnRequest


class ReturnPartners(BaseModel):
    """Which partner integrations the worker that opened the RMA had: the run follows this (it is
    in its history), never the configuration of a later worker."""

    refunds: bool = False
    return_labels: bool = False


# ----------------------------------------------------------------- opening (activities)
class ReadOrder(BaseModel):
    order_id: str


class OrderSnapshot(BaseModel):
    """The order as the RMA found it: the order workflow's state plus its input (customer,
    ship-to, channel), which the state does not hold."""

    state: OrderState
    request: OrderRequest


class OpenReturn(BaseModel):
    rma_id: str
    order_id: str
    seq: int
    request: ReturnRequest
    order: OrderSnapshot
    as_of: datetime  # workflow time: the return window is judged against it


class ReturnAllocation(BaseModel):
    """Returned units of a line, tied to the delivered shipment (and its capture) they came in."""

    shipment_id: str
    qty: int
    capture_id: str | None = None


class OpenedLine(BaseModel):
    line_id: str
    sku: str
    qty: int
    unit_price: Money
    reason: str = ""
    window_closes: datetime
    allocations: list[ReturnAllocation]
    # The order line it comes from (its net price, tax included): units are refunded at
    # order_line.value_of(units). None (RMAs opened before it was recorded): unit_price each.
    order_line: OrderLine | None = None

    def value_of(self, units: int) -> Money:
        if self.order_line is None:
            return self.unit_price.times(units)
        return self.order_line.value_of(units)


class OpenedReturn(BaseModel):
    rma_id: str
    order_id: str
    seq: int
    customer: Customer
    ship_to: Address | None
    return_node: str
    return_address: Address
    deadline: datetime  # the return window closes: the RMA expires unless received by then
    currency: str
    lines: list[OpenedLine]
    exchange: bool
    exchange_lines: list[ExchangeLine] | None = None
    partners: ReturnPartners
    parcel_lb: Decimal = Decimal(1)  # weight of the units coming back, for the return label
    # `channel`: the order was paid at its channel, so the channel refunds, not the DOM.
    payment_mode: PaymentMode = "dom"


# ----------------------------------------------------------------- receipt (partner event)
class ReceivedUnits(BaseModel):
    model_config = ConfigDict(extra="forbid")

    line_id: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=100_000)
    grade: Grade


class ReturnReceipt(BaseModel):
    """`return.received`: the return node got the parcel and graded each unit. A line may appear
    once per grade. `event_id` makes redelivery harmless."""

    model_config = ConfigDict(extra="forbid")

    event_id: str = Field(min_length=1, max_length=200)
    type: Literal["return.received"] = "return.received"
    rma_id: str = Field(min_length=1, max_length=200)
    lines: list[ReceivedUnits] = Field(min_length=1, max_length=200)
    occurred_at: datetime | None = None


class GradedLine(BaseModel):
    line_id: str
    sku: str
    received: int
    resell: int = 0
    refurbish: int = 0
    scrap: int = 0


class RecordReceipt(BaseModel):
    rma_id: str
    lines: list[GradedLine]


class Restock(BaseModel):
    rma_id: str
    line_id: str
    node: str
    sku: str
    qty: int = Field(ge=1)

    @property
    def reference(self) -> str:
        return f"{self.rma_id}:{self.line_id}"


class RestockResult(BaseModel):
    applied: bool  # False: this restock was already in the ledger (a retry)


class WakeBackorders(BaseModel):
    sku: str
    node: str
    qty: int = Field(ge=1)
    reference: str


class CloseReturn(BaseModel):
    rma_id: str
    status: str


class ExpireResult(BaseModel):
    units: int  # units that were on the RMA and are no longer expected back


# ----------------------------------------------------------------- state (query)
class ReturnStatus(StrEnum):
    # Values share the OrderStatus search attribute with orders, hence the prefixes.
    REQUESTED = "return_requested"
    OPEN = "return_open"
    RECEIVED = "return_received"
    REFUNDED = "refunded"
    EXCHANGED = "exchanged"
    REFUND_MANUAL = "refund_manual"  # received; the money must be returned by a person
    REFUND_AT_CHANNEL = "channel_refund"  # received; the channel that took the money refunds
    CLOSED = "return_closed"  # received, nothing to refund (nothing authorised came back)
    EXPIRED = "expired"
    REFUSED = "return_refused"


TERMINAL_RETURN = (
    ReturnStatus.REFUNDED,
    ReturnStatus.EXCHANGED,
    ReturnStatus.REFUND_MANUAL,
    ReturnStatus.REFUND_AT_CHANNEL,
    ReturnStatus.CLOSED,
    ReturnStatus.EXPIRED,
    ReturnStatus.REFUSED,
)


class ReturnLineState(BaseModel):
    line_id: str
    sku: str
    qty: int
    unit_price: Money
    reason: str = ""
    received: int = 0
    resell: int = 0
    refurbish: int = 0
    scrap: int = 0
    restocked: int = 0


class ReturnLabel(BaseModel):
    label_id: str
    carrier: str
    service: str
    tracking: str
    label_url: str
    cost: Money
    voided: bool = False


class RefundRecord(BaseModel):
    seq: int
    capture_id: str | None = None  # None: not refunded by the DOM (see status)
    amount: Money
    refund_id: str | None = None
    # refunded: by the DOM's provider; to_refund_at_channel: reported to the channel that was
    # paid (payment_mode `channel`), which makes the refund.
    status: Literal["refunded", "to_refund_at_channel"] = "refunded"


class ReturnState(BaseModel):
    rma_id: str
    order_id: str
    workflow_id: str
    status: ReturnStatus
    requested_by: str
    exchange: bool
    customer_id: str | None = None
    return_node: str | None = None
    deadline: datetime | None = None
    lines: list[ReturnLineState] = Field(default_factory=list)
    label: ReturnLabel | None = None
    refunds: list[RefundRecord] = Field(default_factory=list)
    refunded: Money | None = None
    manual_refund: Money | None = None  # owed to the customer, not refunded automatically
    exchange_order_id: str | None = None
    receipt_event_id: str | None = None
    timeline: list[TimelineEvent] = Field(default_factory=list)
    escalations: list[str] = Field(default_factory=list)
    stop_reason: str | None = None
    refusal_kind: str | None = None  # UnknownOrder | InvalidReturn | ReturnRefused | RmaTaken


class ReturnResult(BaseModel):
    rma_id: str
    status: ReturnStatus
    refunded: Money | None = None
    manual_refund: Money | None = None
    exchange_order_id: str | None = None
    stop_reason: str | None = None
