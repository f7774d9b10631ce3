"""Messages about stock on its way: purchase orders and transfers expected at a node (inbound
supply), the backordered units pre-sold against them, and the dates orders show for them."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

InboundKind = Literal["po", "transfer"]
InboundStatus = Literal["open", "received", "cancelled"]
INBOUND_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


def prereservation_shipment_id(order_id: str, inbound_id: str) -> str:
    """The reservation an arrival makes for a pre-ordered line, before the order routes it."""
    return f"{order_id}:inbound:{inbound_id}"


class InboundRequest(BaseModel):
    """Create an inbound, or update an open one (same id: idempotent)."""

    id: str = Field(min_length=1, max_length=120, pattern=INBOUND_ID_PATTERN)
    kind: InboundKind = "po"
    node: str = Field(min_length=1, max_length=64)
    sku: str = Field(min_length=1, max_length=64)
    qty: int = Field(ge=1, le=1_000_000)
    expected_at: AwareDatetime  # when the units are expected at the node
    source: str = Field(default="", max_length=200)  # supplier, sending node, partner feed


class InboundDelay(BaseModel):
    expected_at: AwareDatetime


class InboundReceive(BaseModel):
    qty: int | None = Field(default=None, ge=1, le=1_000_000)  # None = everything still due
    # The receipt's id (ASN): a repeat is applied once. None = the inbound's id, so a receipt
    # without its own reference is applied once whatever its quantity.
    reference: str | None = Field(default=None, min_length=1, max_length=120)


class Inbound(BaseModel):
    id: str
    kind: str
    node: str
    sku: str
    qty: int
    received: int
    allocated: int  # pre-sold units still on their way
    available: int  # still on its way and not pre-sold: what a promise may use
    expected_at: datetime
    status: InboundStatus
    source: str
    created_at: datetime
    updated_at: datetime


class InboundByDate(BaseModel):
    """One open inbound as ATP views and promises see it."""

    inbound: str
    node: str
    sku: str
    expected_at: datetime
    qty: int  # still on its way
    unallocated: int  # of which nobody has pre-ordered


class AtpInbound(BaseModel):
    """A line of `AtpView.inbound`: units on their way to a node, by date."""

    inbound: str
    node: str
    expected_at: datetime
    qty: int
    available: int


class BackorderPromise(BaseModel):
    """What an order shows for backordered units: the inbound they are pre-ordered against and
    its expected date, or neither (waiting for stock nobody has announced yet)."""

    line: str
    sku: str
    qty: int
    expected_at: datetime | None = None
    inbound: str | None = None
    node: str | None = None
    arrived: bool = False  # the inbound arrived: the units are reserved for the order


class BackorderLine(BaseModel):
    line_id: str
    sku: str
    backordered: int = Field(ge=0)


class AllocateBackorders(BaseModel):
    """The order's backordered units per line: allocate what has no inbound yet, release what
    the line no longer waits for (cancelled, routed)."""

    order_id: str
    lines: list[BackorderLine]


class InboundNotice(BaseModel):
    """Signal to an order: an inbound it is pre-ordered against changed (late, cancelled,
    arrived). The order reads its allocations again; duplicates are harmless."""

    inbound: str
    change: Literal["delayed", "cancelled", "received", "updated"] = "updated"


class InboundChange(BaseModel):
    """What an inbound operation did, and the orders to tell."""

    inbound: Inbound
    applied: bool  # False: a repeat or nothing to do
    orders: list[str] = Field(default_factory=list)  # orders whose allocations it touched
    reserved_units: int = 0  # receipts: pre-ordered units that became reservations
    unallocated_received: int = 0  # receipts: units nobody had pre-ordered (new ATP)
    reallocated_units: int = 0  # cancels: units moved to other inbound
    released_units: int = 0  # cancels: units left backordered without a date
