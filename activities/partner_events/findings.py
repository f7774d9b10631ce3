"""What reconciliation learns from the stored partner events.

* An event still pending after the settle time (Temporal would not take its signal for that
  long, or no worker runs the delivery loop): `undelivered-event`, repaired by re-delivering it
  to its order with its own event id.
* A shipped event for a shipment the DOM had cancelled, received after its order closed
  (`recorded-after-close`: the units were booked out of on_hand when it arrived): the customer
  may have goods the DOM never charged for, and the node shipped against a cancel. Only a person
  can settle that: `event-after-close`, escalated.

Other events for closed orders (a late delivered event, which updated the shipment's outcome
record when it arrived; an accepted or rejected one for a shipment the DOM had already given
up) change nothing the DOM still decides, so they are not divergences.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from activities.partner_events import store
from activities.partner_events.store import StoredEvent
from dom_workflows.reconcile.models import Finding, Repair


def _evidence(e: StoredEvent) -> dict[str, object]:
    return {
        "partner": e.partner_id,
        "event_id": e.event_id,
        "type": e.type,
        "status": e.status,
        "received_at": e.received_at.isoformat(),
        "attempts": e.attempts,
        "last_error": e.last_error,
        "carrier": e.signal.carrier,
        "tracking": e.signal.tracking,
    }


def undelivered(events: Iterable[StoredEvent]) -> list[Finding]:
    """Pending events, one finding per shipment (its events re-delivered in arrival order)."""
    by_shipment: dict[str, list[StoredEvent]] = {}
    for e in events:
        by_shipment.setdefault(e.shipment_id, []).append(e)
    return [
        Finding(
            kind="undelivered-event",
            subject=sid,
            order_id=stored[0].order_id,
            summary=f"{len(stored)} stored partner event(s) for {sid} not yet delivered to order "
            f"{stored[0].order_id}: " + ", ".join(e.event_id for e in stored),
            evidence={"events": [_evidence(e) for e in stored]},
            repair=Repair(
                kind="redeliver-events",
                idempotency_key=f"reconcile:redeliver-stored:{sid}",
                order_id=stored[0].order_id,
                events=[e.signal for e in stored],
            ),
        )
        for sid, stored in by_shipment.items()
    ]


def after_close(events: Iterable[StoredEvent]) -> list[Finding]:
    """Shipped events for shipments the DOM had cancelled, after their order closed."""
    return [
        Finding(
            kind="event-after-close",
            subject=e.shipment_id,
            order_id=e.order_id,
            summary=f"{e.partner_id} shipped {e.shipment_id} ({e.event_id}) after the DOM had "
            f"cancelled it and order {e.order_id} had closed; units booked out, customer and "
            "node to settle",
            evidence=_evidence(e),
        )
        for e in events
        if e.status == "recorded-after-close"
    ]


async def stored_event_findings(
    engine: AsyncEngine, since: datetime, cutoff: datetime
) -> list[Finding]:
    """The reconciler's hook: pending events received before `cutoff` (any age: an event must
    not stop being reported because it is old), and events after close received since `since`."""
    pending = await store.listed(engine, ("pending",), received_before=cutoff)
    closed = await store.listed(engine, ("recorded-after-close",), received_since=since)
    return undelivered(pending) + after_close(closed)
