"""Unplanned outbound on SQLite and PostgreSQL: shipped units of a cancelled request leave on_hand
once per reference, never below reserved, with a movement and an escalation."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import ledger, schema
from activities.inventory.outbound import list_escalations, record_unplanned_outbound

SKU = "TREK-POLES"
NODE = "wh-reno"


async def _pos(engine: AsyncEngine, node: str = NODE, sku: str = SKU) -> ledger.Position:
    async with engine.connect() as conn:
        return next(p for p in await ledger.read_positions(conn, [sku]) if p.node == node)


async def _outbound_moves(engine: AsyncEngine, reference: str) -> list[tuple[str, int, str]]:
    m = schema.movements
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(m.c.kind, m.c.on_hand_delta, m.c.sku).where(m.c.reference == reference)
        )
        return [(r.kind, r.on_hand_delta, r.sku) for r in rows]


async def test_shipped_units_leave_on_hand_once(ledger_engine: AsyncEngine) -> None:
    before = await _pos(ledger_engine)
    kwargs = dict(
        order_id="O-UO",
        shipment_id="O-UO:1:wh-reno",
        node=NODE,
        lines=[(SKU, 3)],
        reference="evt-1",
        note="node shipped after cancel",
    )
    results = await asyncio.gather(
        *(record_unplanned_outbound(ledger_engine, **kwargs) for _ in range(3))  # type: ignore[arg-type]
    )
    assert results == [3, 3, 3]  # duplicates return the first answer
    after = await _pos(ledger_engine)
    assert (after.on_hand, after.reserved) == (before.on_hand - 3, before.reserved)
    assert await _outbound_moves(ledger_engine, "evt-1") == [("unplanned-outbound", -3, SKU)]
    escalations = await list_escalations(ledger_engine)
    assert len(escalations) == 1
    esc = escalations[0]
    assert (esc["order_id"], esc["shipment_id"], esc["kind"]) == (
        "O-UO",
        "O-UO:1:wh-reno",
        "unplanned-outbound",
    )
    assert "3 x TREK-POLES" in str(esc["message"]) and "Shortfall" not in str(esc["message"])


async def test_never_below_reserved_and_shortfall_is_escalated(ledger_engine: AsyncEngine) -> None:
    before = await _pos(ledger_engine)
    free = before.on_hand - before.reserved
    # Another order holds all but 2 of the free units.
    async with ledger_engine.begin() as conn:
        await conn.execute(
            schema.inventory_positions.update()
            .where(
                schema.inventory_positions.c.node_id == NODE,
                schema.inventory_positions.c.sku == SKU,
            )
            .values(safety_stock=0)
        )
        await ledger.reserve(
            conn, "O-OTHER", 1, [ledger.Allocation("O-OTHER:1:wh-reno", NODE, SKU, "1", free - 2)]
        )
    units = await record_unplanned_outbound(
        ledger_engine,
        order_id="O-UO2",
        shipment_id="O-UO2:1:wh-reno",
        node=NODE,
        lines=[(SKU, 5), ("FLEECE-M", 1)],
        reference="evt-2",
        note="",
    )
    after = await _pos(ledger_engine)
    assert after.on_hand == after.reserved == before.on_hand - 2
    fleece = await _pos(ledger_engine, sku="FLEECE-M")
    assert units == 2 + 1
    assert fleece.on_hand >= fleece.reserved
    message = str((await list_escalations(ledger_engine))[0]["message"])
    assert "Shortfall: 3 x TREK-POLES" in message
