"""What a partner's shipment event does to the order's books. Pure: the workflow's signal
handler applies the event and carries out the follow-up this returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from dom_workflows.common.models import ShipmentLine
from dom_workflows.common.text import count
from dom_workflows.order import state as bk
from dom_workflows.order.book import OrderBook
from dom_workflows.order.models import Shipment, ShipmentEvent, ShipmentStatus


@dataclass
class FollowUp:
    """Work the event leaves for the order's supervision loop."""

    rejected_lines: list[ShipmentLine] = field(default_factory=list)
    left_after_cancel: bool = False  # units left a node whose request the DOM had ended


def apply_event(book: OrderBook, sh: Shipment, ev: ShipmentEvent, now: datetime) -> FollowUp:
    follow = FollowUp()
    at = ev.occurred_at or now
    if ev.type == "accepted" and sh.status == ShipmentStatus.REQUESTED:
        sh.status, sh.accepted_at = ShipmentStatus.ACCEPTED, at
        book.event("accepted", f"accepted by {sh.node}", sh.shipment_id)
    elif ev.type == "rejected" and sh.status.is_open:
        reason = ev.reason or "no reason given"
        partial = bool(ev.lines) and sum(x.qty for x in ev.lines or []) < sh.units
        what = ", ".join(f"{x.sku} x{x.qty}" for x in ev.lines or []) if partial else "all lines"
        book.state.rejections.append(f"{sh.node} rejected {what} of {sh.shipment_id}: {reason}")
        book.event("rejected", f"{sh.node} rejected {what}: {reason}", sh.shipment_id)
        if partial:
            follow.rejected_lines = list(ev.lines or [])
        else:
            sh.status, sh.reason = ShipmentStatus.REJECTED, reason
    elif ev.type in ("shipped", "delivered") and sh.status.is_open:
        sh.status, sh.shipped_at = ShipmentStatus.SHIPPED, at
        sh.accepted_at = sh.accepted_at or at
        sh.carrier, sh.tracking = ev.carrier or sh.carrier, ev.tracking or sh.tracking
        for sl in sh.lines:
            book.line(sl.line_id).shipped += sl.qty
        book.event(
            "shipped", f"shipped by {sh.node} via {sh.carrier} {sh.tracking}", sh.shipment_id
        )
        if ev.type == "delivered":
            _deliver(book, sh, at)
    elif ev.type == "delivered" and sh.status == ShipmentStatus.SHIPPED:
        _deliver(book, sh, at)
    elif ev.type == "shipped" and sh.status in bk.DEAD:
        follow.left_after_cancel = True
        book.escalate(
            f"{sh.node} reports {sh.shipment_id} shipped after it was {sh.status.value}: "
            f"{count(sum(x.qty for x in sh.requested_lines), 'unit')} left the node all the same: "
            "recorded as gone, not charged (recover the parcel or charge the customer by hand)"
        )
    else:
        book.event("ignored", f"{ev.type} while {sh.status.value}", sh.shipment_id)
        return follow
    book.refresh()
    return follow


def _deliver(book: OrderBook, sh: Shipment, at: datetime) -> None:
    sh.status, sh.delivered_at = ShipmentStatus.DELIVERED, at
    for sl in sh.lines:
        book.line(sl.line_id).delivered += sl.qty
    book.event("delivered", f"delivered ({sh.carrier} {sh.tracking})", sh.shipment_id)
