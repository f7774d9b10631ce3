"""Delivering a stored partner event to its order: the signal, and what happens when it fails.

Every outcome leaves the event stored: `delivered` (the order's workflow took it; the workflow
ignores an event id it has seen, so a repeat is harmless), `order-closed` (no workflow runs for
the order any more; what the event still means is recorded here), or `pending` after any other
failure (Temporal unavailable, overloaded, a timeout...), to be tried again by the worker's
delivery loop (workers/partner_events.py) with the same event id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from activities.fulfillment.records import ShipmentRecord, shipment_record
from activities.insight.records import apply_outcome
from activities.inventory.db import utcnow
from activities.inventory.outbound import record_unplanned_outbound
from activities.partner_events import store
from activities.partner_events.store import StoredEvent
from dom_workflows.insight.models import ShipmentOutcome
from dom_workflows.order import names
from dom_workflows.order.models import order_workflow_id

log = logging.getLogger("dom.partner_events")

Outcome = Literal["delivered", "order-closed", "recorded-after-close", "pending"]


async def deliver(
    engine: AsyncEngine, client: Client, event: StoredEvent, now: datetime | None = None
) -> Outcome:
    """Signal `event` to its order once and settle the stored row by what happened."""
    now = now or utcnow()
    handle = client.get_workflow_handle(order_workflow_id(event.order_id))
    try:
        await handle.signal(names.SHIPMENT_EVENT, event.signal)
    except RPCError as e:
        if e.status != RPCStatusCode.NOT_FOUND:
            return await _failed(engine, event, f"{e.status.name if e.status else 'RPC'}: {e}", now)
        outcome = await after_close(engine, event)
        await store.settle(engine, event.id, outcome, now)
        return outcome
    except Exception as e:  # whatever broke, the event is stored: try again later
        return await _failed(engine, event, f"{type(e).__name__}: {e}", now)
    await store.settle(engine, event.id, "delivered", now)
    return "delivered"


async def _failed(engine: AsyncEngine, event: StoredEvent, error: str, now: datetime) -> Outcome:
    log.warning(
        "partner event %s/%s for %s not delivered yet (attempt %d): %s",
        event.partner_id,
        event.event_id,
        event.order_id,
        event.attempts + 1,
        error,
    )
    await store.failed(engine, event, error, now)
    return "pending"


async def after_close(
    engine: AsyncEngine, event: StoredEvent
) -> Literal["order-closed", "recorded-after-close"]:
    """What an event still means once its order has ended. A shipped event for a shipment the
    DOM had cancelled (every unit released): the units left anyway, so they are booked out of
    on_hand and escalated. A delivered event: the shipment's outcome record says so. Anything
    else is kept for ops and reconciliation and changes nothing."""
    rec = await shipment_record(engine, event.shipment_id)
    if rec is None:
        return "order-closed"
    kind = event.signal.type
    if kind == "shipped" and rec.released:
        await _book_out(engine, event, rec)
        return "recorded-after-close"
    if kind == "delivered" and not rec.released:
        delivered_at = event.signal.occurred_at or event.received_at
        async with engine.begin() as conn:
            await apply_outcome(
                conn,
                ShipmentOutcome(
                    shipment_id=event.shipment_id, status="delivered", delivered_at=delivered_at
                ),
                utcnow(),
            )
    log.info(
        "partner event %s/%s (%s) for %s arrived after order %s closed; recorded",
        event.partner_id,
        event.event_id,
        event.type,
        event.shipment_id,
        event.order_id,
    )
    return "order-closed"


async def _book_out(engine: AsyncEngine, event: StoredEvent, rec: ShipmentRecord) -> None:
    """The units of a shipment the DOM cancelled that the node shipped all the same: out of
    on_hand once per event (the reference is the event), with an escalation."""
    signal = event.signal
    shipped = (
        [(rec.skus[ln.line_id], ln.qty) for ln in signal.lines]
        if signal.lines
        else [(rec.skus[line_id], qty) for line_id, qty in rec.lines.items()]
    )
    units = await record_unplanned_outbound(
        engine,
        order_id=rec.order_id,
        shipment_id=rec.shipment_id,
        node=rec.node,
        lines=shipped,
        reference=f"partner-event:{event.partner_id}:{event.event_id}",
        note=(
            f"{event.partner_id} reported {event.type} ({event.event_id}"
            + (f", {signal.carrier} {signal.tracking}" if signal.carrier or signal.tracking else "")
            + ") after the order had closed"
        ),
    )
    log.warning(
        "%s: %s %s for %s after order %s closed; %d units recorded as unplanned outbound",
        event.partner_id,
        event.type,
        event.event_id,
        rec.shipment_id,
        rec.order_id,
        units,
    )


@dataclass(frozen=True)
class Sweep:
    """One pass of the delivery loop: how many due events ended how."""

    delivered: int = 0
    closed: int = 0
    pending: int = 0

    @property
    def tried(self) -> int:
        return self.delivered + self.closed + self.pending


async def deliver_due(
    engine: AsyncEngine, client: Client, now: datetime | None = None, limit: int = 100
) -> Sweep:
    """Try every pending event whose next attempt is due, oldest first."""
    now = now or utcnow()
    delivered = closed = pending = 0
    for event in await store.due(engine, now, limit):
        outcome = await deliver(engine, client, event, now)
        if outcome == "delivered":
            delivered += 1
        elif outcome == "pending":
            pending += 1
        else:
            closed += 1
    return Sweep(delivered=delivered, closed=closed, pending=pending)
