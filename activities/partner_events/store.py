"""The `partner_events` table: every partner event the API accepted, stored before it answers.

A row is written once per (partner, event id) -- a repeat finds the first -- as `pending`, and
settled exactly once: `delivered` when the order's workflow took the signal, `order-closed` or
`recorded-after-close` when its order had already ended. A pending row whose signal failed waits
`next_attempt_at` (growing backoff) before the worker's delivery loop tries it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import schema
from activities.inventory.db import utcnow
from dom_workflows.order.models import ShipmentEvent

events = schema.partner_events

Status = Literal["pending", "delivered", "order-closed", "recorded-after-close"]
Settled = Literal["delivered", "order-closed", "recorded-after-close"]

# The request that stores an event signals it itself: the delivery loop leaves a new row alone
# this long, so it does not race the request's own attempt.
FIRST_RETRY_AFTER = timedelta(seconds=30)
MAX_BACKOFF = timedelta(minutes=5)


@dataclass(frozen=True)
class StoredEvent:
    id: int
    partner_id: str
    event_id: str
    order_id: str
    shipment_id: str
    type: str  # the partner's event type, e.g. shipment.shipped
    signal: ShipmentEvent
    status: Status
    attempts: int
    last_error: str
    received_at: datetime

    @classmethod
    def of(cls, row: Any) -> StoredEvent:
        return cls(
            id=row.id,
            partner_id=row.partner_id,
            event_id=row.event_id,
            order_id=row.order_id,
            shipment_id=row.shipment_id,
            type=row.type,
            signal=ShipmentEvent.model_validate(row.signal),
            status=row.status,
            attempts=row.attempts,
            last_error=row.last_error,
            received_at=_aware(row.received_at),
        )


def _aware(value: datetime) -> datetime:
    """SQLite hands DateTime columns back naive; every time the DOM stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def backoff(attempts: int) -> timedelta:
    """After `attempts` failed signals: 10 s, 20 s, 40 s ... at most 5 minutes."""
    return min(timedelta(seconds=5 * 2 ** min(attempts, 10)), MAX_BACKOFF)


async def find(engine: AsyncEngine, partner_id: str, event_id: str) -> StoredEvent | None:
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(events).where(
                    events.c.partner_id == partner_id, events.c.event_id == event_id
                )
            )
        ).first()
    return StoredEvent.of(row) if row is not None else None


async def record(
    engine: AsyncEngine,
    *,
    partner_id: str,
    partner_type: str,
    order_id: str,
    signal: ShipmentEvent,
    now: datetime | None = None,
) -> StoredEvent | None:
    """Store the event as pending, committed when this returns; None if this partner's event id
    was stored first by someone else (a concurrent repeat: theirs stands)."""
    now = now or utcnow()
    values = {
        "partner_id": partner_id,
        "event_id": signal.event_id,
        "order_id": order_id,
        "shipment_id": signal.shipment_id,
        "type": partner_type,
        "signal": signal.model_dump(mode="json"),
        "status": "pending",
        "attempts": 0,
        "last_error": "",
        "received_at": now,
        "next_attempt_at": now + FIRST_RETRY_AFTER,
    }
    try:
        async with engine.begin() as conn:
            result = await conn.execute(events.insert().values(**values))
    except IntegrityError:
        return None
    (new_id,) = result.inserted_primary_key or (None,)
    assert new_id is not None, "the insert returned no id"
    return StoredEvent(
        id=int(new_id),
        partner_id=partner_id,
        event_id=signal.event_id,
        order_id=order_id,
        shipment_id=signal.shipment_id,
        type=partner_type,
        signal=signal,
        status="pending",
        attempts=0,
        last_error="",
        received_at=now,
    )


async def settle(engine: AsyncEngine, event_id: int, status: Settled, now: datetime) -> bool:
    """Settle a pending event; False if it was settled already (by another delivery)."""
    async with engine.begin() as conn:
        result = await conn.execute(
            events.update()
            .where(events.c.id == event_id, events.c.status == "pending")
            .values(status=status, settled_at=now, next_attempt_at=None)
        )
    return bool(result.rowcount)


async def failed(engine: AsyncEngine, event: StoredEvent, error: str, now: datetime) -> None:
    """A signal attempt failed: count it, say why, and put the next attempt off."""
    attempts = event.attempts + 1
    async with engine.begin() as conn:
        await conn.execute(
            events.update()
            .where(events.c.id == event.id, events.c.status == "pending")
            .values(
                attempts=attempts, last_error=error[:500], next_attempt_at=now + backoff(attempts)
            )
        )


async def due(engine: AsyncEngine, now: datetime, limit: int = 100) -> list[StoredEvent]:
    """Pending events whose next attempt is due, oldest first."""
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(events)
            .where(events.c.status == "pending", events.c.next_attempt_at <= now)
            .order_by(events.c.received_at, events.c.id)
            .limit(limit)
        )
        return [StoredEvent.of(r) for r in rows]


async def listed(
    engine: AsyncEngine,
    statuses: tuple[Status, ...],
    *,
    received_since: datetime | None = None,
    received_before: datetime | None = None,
    limit: int = 500,
) -> list[StoredEvent]:
    """Events in `statuses`, oldest first (for ops and reconciliation)."""
    query = sa.select(events).where(events.c.status.in_(statuses))
    if received_since is not None:
        query = query.where(events.c.received_at >= received_since)
    if received_before is not None:
        query = query.where(events.c.received_at <= received_before)
    async with engine.connect() as conn:
        rows = await conn.execute(query.order_by(events.c.received_at, events.c.id).limit(limit))
        return [StoredEvent.of(r) for r in rows]


async def settle_redelivered(
    engine: AsyncEngine, order_id: str, event_ids: list[str], now: datetime
) -> int:
    """Reconciliation re-delivered these events of `order_id`: settle those still pending."""
    async with engine.begin() as conn:
        result = await conn.execute(
            events.update()
            .where(
                events.c.order_id == order_id,
                events.c.event_id.in_(event_ids),
                events.c.status == "pending",
            )
            .values(status="delivered", settled_at=now, next_attempt_at=None)
        )
    return int(result.rowcount or 0)
