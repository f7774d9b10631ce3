"""What an order reports about its shipments and its money, for the KPI records.

Pure and deterministic: the order workflow builds these from its own state (times are its
workflow time or the partner's event time), and the inventory activities it already calls carry
them to the database (activities/insight/records.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel

from dom_workflows.order.models import Shipment, ShipmentStatus

OutcomeStatus = Literal["requested", "accepted", "rejected", "shipped", "delivered", "cancelled"]

# The order's statuses map onto the record's; a timed-out request was cancelled for its breach.
_STATUS: dict[ShipmentStatus, OutcomeStatus] = {
    ShipmentStatus.REQUESTED: "requested",
    ShipmentStatus.ACCEPTED: "accepted",
    ShipmentStatus.SHIPPED: "shipped",
    ShipmentStatus.DELIVERED: "delivered",
    ShipmentStatus.REJECTED: "rejected",
    ShipmentStatus.CANCELLED: "cancelled",
    ShipmentStatus.TIMED_OUT: "cancelled",
}


class ShipmentOutcome(BaseModel):
    """Where one shipment is. Applying it never moves a record backwards and never rewrites a
    time already recorded, so a retry or a later, older report changes nothing."""

    shipment_id: str
    status: OutcomeStatus
    reason: str | None = None
    breached: bool = False  # cancelled at its node because it missed an SLA
    accepted_at: datetime | None = None
    rejected_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    cancelled_at: datetime | None = None


def outcome_of(sh: Shipment, now: datetime) -> ShipmentOutcome:
    """The record of `sh` as the order sees it at `now` (the time of a rejection or a
    cancellation, which the shipment itself does not keep)."""
    status = _STATUS[sh.status]
    return ShipmentOutcome(
        shipment_id=sh.shipment_id,
        status=status,
        reason=sh.reason if status in ("rejected", "cancelled") else None,
        breached=sh.status == ShipmentStatus.TIMED_OUT,
        accepted_at=sh.accepted_at,
        shipped_at=sh.shipped_at,
        delivered_at=sh.delivered_at,
        rejected_at=now if status == "rejected" else None,
        cancelled_at=now if status == "cancelled" else None,
    )


class OrderClosing(BaseModel):
    """The order's money and fate when its books close."""

    status: str
    closed_at: datetime
    cancelled_units: int = 0
    cancelled_value: Decimal = Decimal("0")  # what the cancelled units were sold for
    refunds: Decimal = Decimal("0")  # captured money given back
    shipments: list[ShipmentOutcome]
