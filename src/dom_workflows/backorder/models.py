"""Messages of the backorder domain: an order's waiting lines and the per-SKU waiting list."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


def backorder_workflow_id(order_id: str) -> str:
    return f"backorder-{order_id}"


def waitlist_workflow_id(sku: str) -> str:
    return f"waitlist-{sku}"


class BackorderInput(BaseModel):
    order_id: str
    order_workflow_id: str
    remaining: dict[str, int]  # sku -> units still waiting
    deadline: datetime


class BackorderResult(BaseModel):
    order_id: str
    filled: dict[str, int] = Field(default_factory=dict)
    expired: dict[str, int] = Field(default_factory=dict)  # sku -> units cancelled at the deadline


class StockAvailable(BaseModel):
    sku: str


class SetRemaining(BaseModel):
    """The order tells its backorder how many units of a SKU still wait (after an attempt to
    fill them, or after the customer cancelled some)."""

    sku: str
    remaining: int = Field(ge=0)
    after_wake: bool = False  # answers a stock_available wake-up


class ExtendDeadline(BaseModel):
    """The order's units are pre-ordered against inbound expected later than the deadline: wait
    until this one instead (a deadline never moves earlier)."""

    deadline: datetime
    reason: str = ""


class Waiter(BaseModel):
    workflow_id: str
    qty: int = Field(ge=1)


class StockArrival(BaseModel):
    node: str
    qty: int = Field(ge=1)
    reference: str


class Settled(BaseModel):
    workflow_id: str
    filled: bool


class WaitlistState(BaseModel):
    """Everything a waitlist carries across continue-as-new."""

    sku: str
    queue: list[Waiter] = Field(default_factory=list)
    stock_pending: bool = False
    woken_total: int = 0
    # Continue-as-new after this many wake-ups, so the history stays bounded however many
    # orders wait (the server's own suggestion also triggers it).
    wakes_per_run: int = Field(default=500, ge=1)


class JoinWaitlist(BaseModel):
    sku: str
    waiter: Waiter


class LeaveWaitlist(BaseModel):
    sku: str
    workflow_id: str
