"""Stock that left is stock that left: units a node shipped for a request the DOM had cancelled.

When the DOM cancels a request it releases the reservation, so the units went back to ATP. If the
node ships them anyway (it never saw the cancel, or saw it too late), they are gone all the same:
on_hand must drop, or the DOM would promise stock that is on a truck. This records that, once
per `reference`, and files an escalation so a person settles it with the customer and the node.

on_hand never drops below `reserved` + `held` (those units are promised to other orders or held
in carts); what cannot be taken is reported as a shortfall in the escalation and in the log.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from activities.inventory import schema
from activities.inventory.db import utcnow
from activities.inventory.ledger import _locking, _movement, claim_key, stored_result

log = logging.getLogger(__name__)

pos = schema.inventory_positions
KEY_KIND = "unplanned-outbound"
MOVEMENT_KIND = "unplanned-outbound"


def outbound_key(reference: str) -> str:
    return f"{KEY_KIND}:{reference}"


async def record_unplanned_outbound(
    engine: AsyncEngine,
    *,
    order_id: str,
    shipment_id: str,
    node: str,
    lines: list[tuple[str, int]],
    reference: str,
    note: str,
) -> int:
    """Take shipped units of a cancelled request out of on_hand and escalate; returns the units
    recorded (taken out of on_hand). A repeat of `reference` changes nothing and returns the
    first answer."""
    if any(qty < 1 for _, qty in lines):
        raise ValueError("every line needs a quantity of at least 1")
    key = outbound_key(reference)
    try:
        async with engine.begin() as conn:
            if not await claim_key(conn, key, KEY_KIND):
                return int(await stored_result(conn, key))
            units = await _record(conn, order_id, shipment_id, node, lines, reference, note)
            await conn.execute(
                schema.applied_keys.update()
                .where(schema.applied_keys.c.key == key)
                .values(result=units)
            )
            return units
    except IntegrityError:
        # A concurrent delivery of the same report claimed the key first; its answer stands.
        async with engine.connect() as conn:
            return int(await stored_result(conn, key))


async def _record(
    conn: AsyncConnection,
    order_id: str,
    shipment_id: str,
    node: str,
    lines: list[tuple[str, int]],
    reference: str,
    note: str,
) -> int:
    now = utcnow()
    recorded = 0
    parts: list[str] = []
    shortfalls: list[str] = []
    for sku, qty in lines:
        row = (
            await conn.execute(
                _locking(
                    conn,
                    sa.select(pos.c.on_hand, pos.c.reserved, pos.c.held).where(
                        pos.c.node_id == node, pos.c.sku == sku
                    ),
                )
            )
        ).first()
        # Units reserved for orders or held in carts are not the ones that left.
        free = max(0, row.on_hand - row.reserved - row.held) if row is not None else 0
        take = min(qty, free)
        if take > 0:
            # Conditional: never below reserved (so never below zero), even if the row moved.
            done = await conn.execute(
                pos.update()
                .where(
                    pos.c.node_id == node,
                    pos.c.sku == sku,
                    pos.c.on_hand - pos.c.reserved - pos.c.held >= take,
                )
                .values(on_hand=pos.c.on_hand - take, updated_at=now)
            )
            if done.rowcount != 1:
                take = 0
        if take > 0:
            await _movement(
                conn,
                now,
                node,
                sku,
                MOVEMENT_KIND,
                on_hand_delta=-take,
                order_id=order_id,
                reference=reference,
                note=f"shipped after cancel: {shipment_id}; {note}",
            )
        recorded += take
        parts.append(f"{qty} x {sku}")
        if take < qty:
            shortfalls.append(
                f"{qty - take} x {sku} could not be taken out of on_hand "
                f"({'no position' if row is None else f'on hand {row.on_hand}, reserved {row.reserved}, held {row.held}'})"
            )
    message = (
        f"{node} shipped {', '.join(parts)} for {shipment_id} after the DOM cancelled it "
        f"(report {reference}); {recorded} unit(s) taken out of on_hand."
    )
    if shortfalls:
        message += " Shortfall: " + "; ".join(shortfalls) + "."
        log.warning("unplanned outbound shortfall: %s", message)
    if note:
        message += f" Note: {note}"
    await conn.execute(
        schema.escalations.insert().values(
            at=now,
            order_id=order_id,
            shipment_id=shipment_id,
            kind=KEY_KIND,
            message=message[:2000],
        )
    )
    return recorded


async def list_escalations(engine: AsyncEngine, *, limit: int = 100) -> list[dict[str, object]]:
    """The newest escalations first."""
    e = schema.escalations
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(e).order_by(e.c.id.desc()).limit(limit))
        return [dict(r._mapping) for r in rows]


async def count_escalations(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count = await conn.execute(sa.select(sa.func.count()).select_from(schema.escalations))
        return int(count.scalar_one())
